"""Peripherals: the codec on bytes, and emulators on real ptys read through pyserial."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peripherals.clock import ManualClock
from peripherals.conformance import check_peripheral
from peripherals.driver import ReplicaLink
from peripherals.emulator import (
    LineFaults,
    PistolEmulator,
    ReplicaEmulator,
    TaserEmulator,
    emulator_for,
)
from peripherals.errors import (
    PeripheralError,
    PeripheralNotFoundError,
    PeripheralTimeoutError,
    ProtocolVersionError,
)
from peripherals.messages import (
    CartridgeCode,
    Event,
    EventAck,
    EventKind,
    Model,
    SetCartridge,
    SetMagazine,
    decode_message,
)
from peripherals.ports import PortDirectory, find_by_serial
from peripherals.wire import HEADER, FrameDecoder, cobs_decode, cobs_encode, crc16, encode_frame
from range.clock import MonotonicClock


def test_crc_is_ccitt_false() -> None:
    assert crc16(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE


@given(st.binary(max_size=600))
def test_cobs_round_trips_and_never_contains_zero(data: bytes) -> None:
    encoded = cobs_encode(data)
    assert 0 not in encoded
    assert cobs_decode(encoded) == data


@given(st.binary(max_size=2000), st.binary(max_size=200), st.booleans())
def test_garbage_never_crashes_and_a_framed_message_survives_it(
    noise: bytes, tail: bytes, delimited: bool
) -> None:
    """Noise before a frame, with or without a delimiter between them, and noise after it."""
    frame = encode_frame(Event.TYPE, 7, 123456, Event(EventKind.SHOT_FIRED, value=9).pack())
    decoder = FrameDecoder()
    decoder.feed(noise)
    frames = decoder.feed((b"\x00" if delimited else b"") + frame + tail)
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
    with pytest.raises(PeripheralNotFoundError) as caught:
        ReplicaLink("/dev/does-not-exist", ManualClock()).open()
    # Said once, not pySerial's "[Errno 2] could not open port ...: [Errno 2] ...".
    assert str(caught.value) == "cannot open /dev/does-not-exist: No such file or directory"


def test_a_port_already_open_is_said_to_be_in_use() -> None:
    import os

    import serial

    controller, device = os.openpty()
    name = os.ttyname(device)
    try:
        with serial.Serial(name, exclusive=True):  # another program (or this one) holds it
            with pytest.raises(PeripheralNotFoundError) as caught:
                ReplicaLink(name, ManualClock()).open()
        assert str(caught.value) == (
            f"cannot open {name}: in use by another program (or opened twice: its lock is taken)"
        )
    finally:
        os.close(controller)
        os.close(device)


def test_a_port_a_probe_holds_for_a_moment_is_opened_once_it_is_let_go() -> None:
    """A scan's probe holds a port's lock through its handshake: a run opening the port then
    waits for it (a run's own emulator was refused "in use" while another link probed it)."""
    import os
    import threading

    import serial

    controller, device = os.openpty()
    name = os.ttyname(device)
    probe = serial.Serial(name, exclusive=True)
    threading.Timer(0.3, probe.close).start()
    link = ReplicaLink(name, ManualClock(), handshake_timeout_s=0.05)
    try:
        with pytest.raises(PeripheralError) as caught:  # opened: no replica answers on it
            link.open()
        assert "in use" not in str(caught.value)
    finally:
        link.close()
        probe.close()
        os.close(controller)
        os.close(device)


@contextmanager
def free_running(
    model: Model, serial: str, clock: MonotonicClock, **kwargs: Any
) -> Iterator[ReplicaEmulator]:
    with emulator_for(model, serial, clock, **kwargs) as emulator:
        emulator.run_free()
        yield emulator


@pytest.mark.parametrize("model", list(Model))
def test_every_emulator_passes_the_conformance_suite(model: Model) -> None:
    clock = MonotonicClock()
    with free_running(model, f"CONF-{model.slug}", clock) as emulator:
        # The ping's 10 ms p99 times this machine's scheduler here (the emulator is a thread of
        # the test's process, on a machine the suite loads): conformance is tested, the round
        # trip's speed is benchmarked (bench/run.py, trigger to decoded event).
        checks = check_peripheral(emulator.port or "", clock, max_ping_p99_s=0.5)
    failed = [c for c in checks if not c.passed]
    assert not failed
    assert [c.name for c in checks][:3] == ["handshake", "capabilities", "ping"]


def test_the_conformance_suite_fails_a_replica_that_breaks_the_protocol() -> None:
    clock = MonotonicClock()
    # STATE once a second: the protocol asks for at least 10 Hz.
    with free_running(Model.PISTOL, "SLOW-1", clock, state_period_s=1.0) as emulator:
        checks = {c.name: c for c in check_peripheral(emulator.port or "", clock)}
    assert not checks["state rate"].passed
    assert "STATE/s" in checks["state rate"].detail
    assert checks["handshake"].passed


def test_noise_drops_and_bad_crcs_are_counted_never_raised() -> None:
    clock = ManualClock()
    faults = LineFaults(noise_rate=0.3, drop_rate=0.1, corrupt_rate=0.1, seed=3)
    with TaserEmulator(Model.TASER_7, "NOISY-1", clock, faults=faults) as emu:
        with ReplicaLink(emu.port or "", clock) as link:
            for _ in range(300):
                emu.event(EventKind.BATTERY_LEVEL, value=80)
            emu.write_raw(b"\x00")
            for _ in range(20):
                if link.ping(0.2):
                    break
            got = [e for e in link.poll() if e.kind is EventKind.BATTERY_LEVEL]
            stats = link.decoder.stats
    assert stats.crc_errors + stats.framing_errors > 0
    assert stats.recovered > 0, "noise glued to frames should be cut off, not cost the frame"
    assert stats.frames_lost > 0
    assert 150 < len(got) < 300


def test_an_unplugged_replica_is_found_again_by_serial_on_a_new_port(tmp_path: Path) -> None:
    clock = ManualClock()
    with TaserEmulator(Model.TASER_X2, "X2-REPLUG", clock, directory=tmp_path) as emu:
        first_port = emu.port
        link = ReplicaLink(PortDirectory(tmp_path).ports()[0], clock)
        link.open()
        try:
            emu.unplug()
            assert not link.ping(0.2)
            assert PortDirectory(tmp_path).ports() == []
            emu.replug()
            assert emu.port != first_port
        finally:
            link.close()
        again = find_by_serial("X2-REPLUG", clock, PortDirectory(tmp_path).ports())
        assert again is not None and again.info is not None
        with again:
            assert again.info.serial == "X2-REPLUG"
            emu.press_trigger()
            assert again.ping()
            assert [e.kind for e in again.poll()] == [EventKind.TRIGGER_PRESSED]


def test_an_unknown_message_type_is_reported_with_device_serial_and_versions() -> None:
    clock = ManualClock()
    with TaserEmulator(Model.TASER_10, "T10-ODD", clock) as emu:
        with ReplicaLink(emu.port or "", clock) as link:
            emu.write_raw(encode_frame(0x42, 99, 0, b"\x01"))
            assert link.ping()
            (problem,) = link.problems
    assert problem.startswith("taser-10 serial T10-ODD on /dev/pts/")
    assert "unknown message type 0x42" in problem and "version 1" in problem


def test_a_newer_protocol_version_is_refused_with_a_clear_message() -> None:
    clock = ManualClock()
    with PistolEmulator("P-FUTURE", clock, protocol_version=2) as emu:
        with pytest.raises(ProtocolVersionError) as caught:
            ReplicaLink(emu.port or "", clock).open()
    message = str(caught.value)
    assert "pistol serial P-FUTURE" in message
    assert "version 2" in message and "up to 1" in message


def test_commands_are_retried_until_acknowledged() -> None:
    clock = ManualClock()
    # Half the device's frames arrive with a bad CRC, so some ACKs are lost on the way back.
    faults = LineFaults(corrupt_rate=0.5, seed=11)
    with PistolEmulator("P-RETRY", clock, faults=faults) as emu:
        with ReplicaLink(emu.port or "", clock, handshake_timeout_s=2.0) as link:
            for _ in range(6):
                link.command(SetMagazine(True, 10, True), timeout_s=0.05, retries=20)
    assert emu.commands_received["SET_MAGAZINE"] > 6


def test_a_device_that_never_acknowledges_times_out() -> None:
    clock = ManualClock()
    with PistolEmulator("P-DEAF", clock) as emu:
        with ReplicaLink(emu.port or "", clock) as link:
            emu.faults = LineFaults(corrupt_rate=1.0)
            with pytest.raises(PeripheralTimeoutError, match="no ACK for SET_MAGAZINE"):
                link.command(SetMagazine(True, 10, True), timeout_s=0.05, retries=3)
    assert emu.commands_received["SET_MAGAZINE"] == 3


def test_scheduled_actions_play_on_the_device_clock() -> None:
    clock = ManualClock()
    with TaserEmulator(Model.TASER_X26P, "X26-SCRIPT", clock) as emu:
        with ReplicaLink(emu.port or "", clock) as link:
            emu.schedule(1.0, "draw")
            emu.schedule(1.0, "safety_off")
            emu.schedule(2.0, "press_trigger")
            for t in (0.5, 1.0, 1.5, 2.0):
                clock.set(t)
                emu.service()
            assert link.ping()
            events = [(e.kind, e.host_time_s) for e in link.poll()]
    assert events[:4] == [
        (EventKind.HOLSTER_OUT, 1.0),
        (EventKind.SAFETY_OFF, 1.0),
        (EventKind.TRIGGER_PRESSED, 2.0),
        (EventKind.PROBES_FIRED, 2.0),
    ]


def _kinds_after(emu: ReplicaEmulator, link: ReplicaLink) -> list[tuple[EventKind, int, int]]:
    assert link.ping()
    return [(e.kind, e.bay, e.probe) for e in link.poll()]


def test_taser_10_fires_one_probe_per_pull_then_arcs() -> None:
    clock = ManualClock()
    with TaserEmulator(Model.TASER_10, "T10-SEQ", clock) as emu:
        with ReplicaLink(emu.port or "", clock) as link:
            emu.draw()
            emu.set_safety(False)
            for _ in range(11):
                emu.press_trigger()
                emu.release_trigger()
            events = _kinds_after(emu, link)
    fired = [probe for kind, _, probe in events if kind is EventKind.PROBES_FIRED]
    assert fired == list(range(10))
    empty = events.index((EventKind.CARTRIDGE_EMPTY, 0, 0))
    assert events[empty - 1] == (EventKind.PROBES_FIRED, 0, 9)
    assert events[-2:] == [(EventKind.ARC_SWITCH, 0, 0), (EventKind.TRIGGER_RELEASED, 0, 0)]


def test_x26p_has_one_cartridge_and_the_safety_stops_its_cycle() -> None:
    clock = ManualClock()
    with TaserEmulator(Model.TASER_X26P, "X26-SEQ", clock) as emu:
        with ReplicaLink(emu.port or "", clock) as link:
            emu.press_trigger()  # safety on: nothing fires
            emu.set_safety(False)
            emu.press_trigger()
            clock.advance(2.0)
            emu.set_safety(True)  # stops the 5 s cycle early
            clock.advance(4.0)
            emu.service()
            assert link.ping()
            events = [(e.kind, e.value, e.host_time_s) for e in link.poll()]
    kinds = [k for k, _, _ in events]
    assert kinds.count(EventKind.PROBES_FIRED) == 2
    assert kinds.index(EventKind.SAFETY_OFF) < kinds.index(EventKind.PROBES_FIRED)
    cycle_ends = [(value, t) for k, value, t in events if k is EventKind.CYCLE_ENDED]
    assert cycle_ends == [(1, 2.0)], "one cycle end, by the safety, at 2 s"


def test_an_induced_stoppage_blocks_the_shot_until_cleared() -> None:
    clock = ManualClock()
    with PistolEmulator("P-STOP", clock) as emu, ReplicaLink(emu.port or "", clock) as link:
        link.command(SetMagazine(True, 5, True, stoppage=True))
        emu.press_trigger()
        emu.clear_stoppage()
        emu.press_trigger()
        events = [k for k, _, _ in _kinds_after(emu, link) if k is not EventKind.TRIGGER_PRESSED]
    assert events == [EventKind.STOPPAGE, EventKind.STOPPAGE_CLEARED, EventKind.SHOT_FIRED]


def test_an_event_reaches_the_host_before_its_ack_is_written() -> None:
    """The link hands a decoded event to the host's queue, then acknowledges it: the ack's
    write (a syscall, and the replica's thread it wakes) is not in the trigger-to-event path
    (issue 16). Every event is still acknowledged once, duplicates included."""
    clock = ManualClock()
    with (
        PistolEmulator("P-ACK", clock) as emu,
        ReplicaLink(emu.port or "", clock) as link,
    ):
        queued_at_ack: list[int] = []
        send = link.send

        def spying(message: Any, on_write: Any = None) -> int:
            if isinstance(message, EventAck):
                queued_at_ack.append(link._events.qsize())
            return send(message, on_write)

        link.send = spying  # type: ignore[method-assign]
        emu.magazine_in, emu.chambered = True, True
        emu.draw()
        emu.press_trigger()
        assert link.ping()
        events = link.poll()
        assert len(queued_at_ack) == len(events) > 0
        # Each ack found its own event (and those before it not yet polled) already queued.
        assert queued_at_ack == list(range(1, len(events) + 1))
