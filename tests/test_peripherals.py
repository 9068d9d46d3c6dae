"""Peripherals: the codec on bytes, and emulators on real ptys read through pyserial."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peripherals.clock import ManualClock
from peripherals.driver import ReplicaLink
from peripherals.emulator import PistolEmulator, TaserEmulator
from peripherals.errors import PeripheralNotFoundError
from peripherals.messages import (
    CartridgeCode,
    Event,
    EventKind,
    Model,
    SetCartridge,
    decode_message,
)
from peripherals.wire import HEADER, FrameDecoder, cobs_decode, cobs_encode, crc16, encode_frame


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE


@given(st.binary(max_size=600))
def test_cobs_round_trips_and_never_contains_zero(data: bytes) -> None:
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


@given(st.binary(max_size=2000), st.binary(max_size=200))
def test_garbage_never_crashes_and_a_framed_message_survives_it(noise: bytes, tail: bytes) -> None:
    frame = encode_frame(Event.TYPE, 7, 123456, Event(EventKind.SHOT_FIRED, value=9).pack())
    decoder = FrameDecoder()
    decoder.feed(noise)
    frames = decoder.feed(b"\x00" + frame + tail)
    ours = [f for f in frames if f.seq == 7 and f.device_time_us == 123456]
    assert ours, "the valid frame after the noise was lost"
    assert decode_message(ours[0].msg_type, ours[0].payload) == Event(EventKind.SHOT_FIRED, value=9)


def test_a_corrupted_crc_is_counted_not_raised() -> None:
    body = HEADER.pack(1, Event.TYPE, 1, 0) + Event(EventKind.TRIGGER_PRESSED).pack()
    bad_crc = (crc16(body) ^ 0x0100).to_bytes(2, "big")
    decoder = FrameDecoder()
    assert decoder.feed(cobs_encode(body + bad_crc) + b"\x00") == []
    assert (decoder.stats.crc_errors, decoder.stats.framing_errors) == (1, 0)


def test_sequence_gaps_are_counted() -> None:
    decoder = FrameDecoder()
    for seq in (1, 2, 5):
        decoder.feed(encode_frame(Event.TYPE, seq, 0, Event(EventKind.TRIGGER_PRESSED).pack()))
    assert decoder.stats.sequence_gaps == 1 and decoder.stats.frames_lost == 2


def test_taser_7_fires_one_bay_per_pull_over_a_real_pty() -> None:
    clock = ManualClock()
    with TaserEmulator(Model.TASER_7, "T7-TEST", clock) as emu:
        assert emu.port is not None and emu.port.startswith("/dev/pts/")
        with ReplicaLink(emu.port, clock) as link:
            assert link.info is not None
            assert (link.info.model, link.info.serial, link.info.bays) == (
                Model.TASER_7,
                "T7-TEST",
                2,
            )
            emu.draw()
            emu.set_safety(False)
            clock.advance(1.0)
            emu.press_trigger()
            emu.release_trigger()
            clock.advance(0.5)
            emu.press_trigger()
            assert link.ping()
            fired = [e for e in link.poll() if e.kind is EventKind.PROBES_FIRED]
            assert [(e.bay, e.probe, e.host_time_s) for e in fired] == [
                (0, 0, 1.0),
                (0, 1, 1.0),
                (1, 0, 1.5),
                (1, 1, 1.5),
            ]
            assert CartridgeCode(fired[0].value) is CartridgeCode.TASER7_STANDOFF
            clock.advance(5.0)
            emu.service()
            assert link.ping()
            assert [e.kind for e in link.poll()] == [EventKind.CYCLE_ENDED]


def test_an_instructor_loads_a_bay_and_the_device_acknowledges() -> None:
    clock = ManualClock()
    with TaserEmulator(Model.TASER_X2, "X2-1", clock, loads=(CartridgeCode.NONE,) * 2) as emu:
        with ReplicaLink(emu.port or "", clock) as link:
            link.command(SetCartridge(1, CartridgeCode.X2_25FT, 2))
            assert emu.bays[1] == (CartridgeCode.X2_25FT, 2)
            assert link.ping()
            assert [e.kind for e in link.poll()] == [EventKind.CARTRIDGE_INSERTED]


def test_pistol_locks_its_slide_on_the_last_round_and_reloads() -> None:
    clock = ManualClock()
    with (
        PistolEmulator("P-1", clock, capacity=2) as emu,
        ReplicaLink(emu.port or "", clock) as link,
    ):
        for _ in range(3):
            emu.press_trigger()
        emu.reload()
        emu.press_trigger()
        assert link.ping()
        kinds = [e.kind for e in link.poll() if e.kind is not EventKind.TRIGGER_PRESSED]
        assert kinds == [
            EventKind.SHOT_FIRED,
            EventKind.SHOT_FIRED,
            EventKind.SLIDE_LOCKED,
            EventKind.MAGAZINE_EMPTY,
            EventKind.MAGAZINE_REMOVED,
            EventKind.MAGAZINE_INSERTED,
            EventKind.SLIDE_RELEASED,
            EventKind.SHOT_FIRED,
        ]


def test_clock_sync_recovers_offset_and_drift() -> None:
    clock = ManualClock(100.0)
    emu = TaserEmulator(Model.TASER_10, "T10-1", clock, clock_offset_s=3.25, drift_ppm=100.0)
    with emu, ReplicaLink(emu.port or "", clock) as link:
        for _ in range(40):
            clock.advance(0.05)
            assert link.ping()
        device_now = emu.clock.now_us()
        assert link.sync.to_host(device_now) == pytest.approx(clock.now_s(), abs=1e-5)
        assert link.sync.drift_ppm == pytest.approx(100.0, abs=5.0)


def test_a_missing_port_is_a_not_found_error() -> None:
    with pytest.raises(PeripheralNotFoundError, match="/dev/does-not-exist"):
        ReplicaLink("/dev/does-not-exist", ManualClock()).open()
