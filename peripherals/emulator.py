"""Replica firmware in Python, behind a real pseudo-terminal.

An emulator runs the device side of the protocol: the state machine of a TASER or a pistol, and
the frames it sends. Its port is a real tty (`os.openpty`), so the host opens it with pyserial
exactly as it opens /dev/ttyACM0. The emulator is scriptable (`press_trigger()` and friends) and its
time-driven behaviour (STATE snapshots, the end of a 5 s cycle) advances when its owner calls
`service()`: each frame of a lock-step simulation, or a timer in free-running mode.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from peripherals.clock import Clock
from peripherals.messages import (
    Ack,
    CartridgeCode,
    Event,
    EventAck,
    EventKind,
    Hello,
    Identify,
    Laser,
    MalformedPayloadError,
    Message,
    MessageType,
    Model,
    Nack,
    NackReason,
    Ping,
    Pong,
    Reset,
    Resume,
    Session,
    SessionSet,
    SetCartridge,
    SetMagazine,
    State,
    StateFlags,
    UnknownMessageTypeError,
    decode_message,
)
from peripherals.ports import PortDirectory
from peripherals.wire import KNOWN_TYPES, PROTOCOL_VERSION, FrameDecoder, encode_frame

# facts.md §1: a TASER cycle lasts 5 s per trigger pull; safety down stops it. Whether a held
# trigger keeps it going is per model (`Model.held_trigger_extends_cycle`).
TASER_CYCLE_S = 5.0
# Events kept until the host acknowledges them (docs/protocol.md, "Events are delivered once"):
# more than a drill ever fires while a cable is out; past it the oldest is dropped and counted.
MAX_UNACKED_EVENTS = 256


# The firmware string every replica emulator reports (its start): a host tells an emulated
# replica from a real one by it (`is_emulated`), so an emulator-made calibration profile is
# never taken for a real replica's (range/calibration/profiles.py).
EMULATOR_FIRMWARE = "openrange-emulator"


def is_emulated(firmware: str) -> bool:
    """Whether a replica reporting this firmware is an emulator (not a real replica)."""
    return firmware.startswith(EMULATOR_FIRMWARE)


@dataclass(frozen=True, slots=True)
class DeviceClock:
    """The device's own microsecond clock: it boots at `boot_s` on the host timeline, may start at
    an offset, and runs fast or slow by `drift_ppm`."""

    host: Clock
    boot_s: float = 0.0
    offset_s: float = 0.0
    drift_ppm: float = 0.0

    def now_us(self) -> int:
        return self.at_us(self.host.now_s())

    def at_us(self, host_s: float) -> int:
        """The device's reading at host time `host_s`: what clock sync must recover."""
        elapsed = host_s - self.boot_s
        return max(0, round((elapsed * (1 + self.drift_ppm * 1e-6) + self.offset_s) * 1e6))


@dataclass(frozen=True, slots=True)
class LineFaults:
    """What a bad cable or a noisy USB hub does to the device's frames, per frame sent."""

    noise_rate: float = 0.0  # chance of a burst of random bytes before the frame
    drop_rate: float = 0.0  # chance that one byte of the frame is lost
    corrupt_rate: float = 0.0  # chance that the frame's CRC is wrong
    seed: int = 0

    @property
    def any(self) -> bool:
        return self.noise_rate > 0 or self.drop_rate > 0 or self.corrupt_rate > 0


ACTIONS = (
    "press_trigger",
    "release_trigger",
    "draw",
    "holster",
    "safety_on",
    "safety_off",
    "reload",
    "clear_stoppage",
)


class ReplicaEmulator(ABC):
    """The device side of one replica. Start it to get a port path; stop it to unplug."""

    model: Model

    def __init__(
        self,
        serial: str,
        clock: Clock,
        *,
        firmware: str = f"{EMULATOR_FIRMWARE} 0.1",
        clock_offset_s: float = 0.0,
        drift_ppm: float = 0.0,
        state_period_s: float = 0.05,  # 20 Hz: margin over the protocol's 10 Hz minimum
        faults: LineFaults = LineFaults(),
        directory: Path | None = None,
        protocol_version: int = PROTOCOL_VERSION,
    ) -> None:
        self.serial = serial
        self.firmware = firmware
        self.clock = DeviceClock(clock, clock.now_s(), clock_offset_s, drift_ppm)
        self.state_period_s = state_period_s
        self.safety_on = True
        self.holstered = True
        self.trigger_down = False
        self.laser_on = False
        self.battery_pct = 100
        self._lock = threading.RLock()
        self._seq = 0
        self._master: int | None = None
        self._slave: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._host_seen = False
        self._next_state_us: int | None = None
        self._decoder = FrameDecoder()
        self.port: str | None = None
        self.faults = faults
        self.protocol_version = protocol_version
        self.commands_received: Counter[str] = Counter()
        self._fault_rng = np.random.default_rng(faults.seed)
        self.directory = PortDirectory(directory) if directory is not None else None
        self._schedule: list[tuple[float, str]] = []
        self._free: threading.Thread | None = None
        self._free_stop = threading.Event()
        # Sent (or due to be sent) and not yet acknowledged: seq -> (device time, event).
        self._unacked: dict[int, tuple[int, Event]] = {}
        self.events_dropped = 0  # unacknowledged events pushed out by newer ones
        self.session_nonce = 0  # set by the host's SESSION_SET; kept while the cable is out
        # When a host first opened a session (its first SESSION_SET) and when it last sent
        # anything, host clock seconds: a bench emulator's scripted trigger counts from the
        # one and says so when the other is long ago (range/cli/peripherals.py `_emulate`).
        self.first_session_s: float | None = None
        self.session_opened = threading.Event()
        self.last_heard_s: float | None = None
        self.hung = False
        self.frames_ignored = 0  # frames that arrived while hung

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> str:
        """Plug the device in: open a pty and serve it. Returns the tty path for the host."""
        if self._master is not None:
            raise RuntimeError(f"emulator {self.serial} is already plugged in at {self.port}")
        master, slave = os.openpty()
        # Raw mode at once: a pty starts cooked, and echo or \n -> \r\n would mangle frames
        # (stack-notes.md, "pyserial over pseudo-terminals").
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self.port = os.ttyname(slave)
        self._decoder = FrameDecoder()
        self._stop.clear()
        self._host_seen = False
        self._thread = threading.Thread(
            target=self._serve, name=f"emulator-{self.serial}", daemon=True
        )
        self._thread.start()
        if self.directory is not None:
            try:
                self.directory.register(self.model, self.serial, self.port)
            except BaseException:  # a serial another running emulator holds: nothing plugged
                self.unplug()
                raise
        return self.port

    def stop(self) -> None:
        """Power off: stop the firmware loop and unplug."""
        self.stop_free_running()
        self.unplug()

    def unplug(self) -> None:
        """Pull the cable: the host's next read or write on the port fails."""
        if self.directory is not None:
            self.directory.unregister(self.model, self.serial)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def replug(self) -> str:
        """Plug the cable back in: a new port path, the same serial number and state."""
        self.unplug()
        return self.start()

    def run_free(self, period_s: float = 0.005) -> None:
        """Run the firmware's main loop on its own thread (for a clock that moves by itself)."""
        if self._free is not None:
            return
        self._free_stop.clear()

        def loop() -> None:
            while not self._free_stop.wait(period_s):
                self.service()

        self._free = threading.Thread(target=loop, name=f"firmware-{self.serial}", daemon=True)
        self._free.start()

    def stop_free_running(self) -> None:
        self._free_stop.set()
        if self._free is not None:
            self._free.join(timeout=2.0)
            self._free = None

    def schedule(self, at_s: float, action: str) -> None:
        """Script the officer's hands: do `action` once the host clock reaches `at_s`."""
        if action not in ACTIONS:
            raise ValueError(f"unknown emulator action {action!r}; known: {', '.join(ACTIONS)}")
        with self._lock:
            self._schedule.append((at_s, action))
            self._schedule.sort()

    def __enter__(self) -> ReplicaEmulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the wire --------------------------------------------------------------------------------

    def _serve(self) -> None:
        master = self._master
        assert master is not None
        turns = 0
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            turns += 1
            if self.directory is not None and (not ready or turns % 20 == 0):
                # An owner file deleted while it runs (a tmp cleaner): written again, when
                # idle (every 50 ms) or every 20 reads of a busy line.
                self.directory.restore()
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            # Stamped on arrival, as firmware stamps in its receive interrupt.
            rx_us = self.clock.now_us()
            for frame in self._decoder.feed(data):
                if self.hung:
                    self.frames_ignored += 1  # a hung firmware reads nothing, answers nothing
                    continue
                with self._lock:
                    self._host_seen = True
                    self.last_heard_s = self.clock.host.now_s()
                    self._on_frame(frame.msg_type, frame.seq, frame.payload, rx_us)

    def _on_frame(self, msg_type: int, seq: int, payload: bytes, rx_us: int) -> None:
        self.commands_received[MessageType(msg_type).name if msg_type in KNOWN_TYPES else "?"] += 1
        try:
            message = decode_message(msg_type, payload)
        except UnknownMessageTypeError:
            self.send(Nack(seq, NackReason.UNKNOWN_COMMAND))
            return
        except MalformedPayloadError:
            self.send(Nack(seq, NackReason.BAD_PAYLOAD))
            return
        if isinstance(message, Ping):
            self.send(Pong(message.token, rx_us))
        elif isinstance(message, EventAck):
            self._unacked.pop(message.seq, None)  # not answered: it would double the traffic
        elif isinstance(message, SessionSet):
            self.session_nonce = message.nonce
            self._unacked.clear()  # an earlier session's events are not this session's
            self.send(Ack(seq))
            if self.first_session_s is None:
                self.first_session_s = self.clock.host.now_s()
                self.session_opened.set()
        elif isinstance(message, Resume):
            self.send(Session(self.session_nonce, len(self._unacked)))
            for old_seq, (time_us, event) in list(self._unacked.items()):
                self._write_frame(event, old_seq, time_us)
        elif isinstance(message, Identify):
            self.send(self.hello())
        elif isinstance(message, Reset):
            self._reset()
            self.send(Ack(seq))
            self.send(self.hello())
        elif isinstance(message, Laser):
            self.laser_on = message.on
            self.send(Ack(seq))
        elif message.TYPE in (MessageType.RECOIL, MessageType.HAPTIC, MessageType.LED):
            self.send(Ack(seq))  # felt or seen by the officer; nothing to model
        elif self._on_command(message):
            self.send(Ack(seq))
        else:
            self.send(Nack(seq, NackReason.NOT_POSSIBLE))

    def send(self, message: Message) -> None:
        """Write one frame, stamped with the device clock. Quiet until the host first speaks:
        a pty keeps what nobody reads, and stale frames from before the host opened the port
        would only confuse it."""
        with self._lock:
            if self._master is None or not self._host_seen:
                return
            self._seq = (self._seq + 1) & 0xFFFF
            self._write_frame(message, self._seq, self.clock.now_us())

    def _write_frame(self, message: Message, seq: int, time_us: int) -> None:
        with self._lock:
            if self._master is None or not self._host_seen:
                return
            corrupt = self.faults.any and self._fault_rng.random() < self.faults.corrupt_rate
            frame = encode_frame(
                message.TYPE,
                seq,
                time_us,
                message.pack(),
                version=self.protocol_version,
                crc_xor=0x0101 if corrupt else 0,
            )
            if self.faults.any:
                frame = self._spoil(frame)
            self.write_raw(frame)

    def _spoil(self, frame: bytes) -> bytes:
        rng, faults = self._fault_rng, self.faults
        if rng.random() < faults.drop_rate:
            lost = int(rng.integers(0, len(frame)))
            frame = frame[:lost] + frame[lost + 1 :]
        if rng.random() < faults.noise_rate:
            frame = rng.bytes(int(rng.integers(1, 24))) + frame
        return frame

    def write_raw(self, data: bytes) -> None:
        """Put bytes on the line as they are: frames, or noise for fault tests."""
        with self._lock:
            if self._master is None:
                return
            try:
                os.write(self._master, data)
            except OSError:
                self._stop.set()

    def event(self, kind: EventKind, bay: int = 0, probe: int = 0, value: int = 0) -> None:
        """Send an EVENT and keep it until the host acknowledges it: with the cable out it is
        only kept, and RESUME sends it again after a re-attach (docs/protocol.md)."""
        with self._lock:
            message = Event(kind, bay, probe, value)
            self._seq = (self._seq + 1) & 0xFFFF
            time_us = self.clock.now_us()
            self._unacked.pop(self._seq, None)  # a number 65,536 events old is reused
            self._unacked[self._seq] = (time_us, message)
            if len(self._unacked) > MAX_UNACKED_EVENTS:
                del self._unacked[next(iter(self._unacked))]
                self.events_dropped += 1
            self._write_frame(message, self._seq, time_us)

    @property
    def unacked_events(self) -> int:
        with self._lock:
            return len(self._unacked)

    def hang(self) -> None:
        """Fault injection: the firmware stops (no STATE, no answers) with the cable still in."""
        self.hung = True

    def recover(self) -> None:
        self.hung = False

    # -- the device ------------------------------------------------------------------------------

    def service(self) -> None:
        """Run the time-driven part of the firmware: STATE snapshots and timers."""
        if self.hung:
            return
        with self._lock:
            host_now = self.clock.host.now_s()
            while self._schedule and self._schedule[0][0] <= host_now:
                _, action = self._schedule.pop(0)
                self._do(action)
            now = self.clock.now_us()
            self._on_service(now)
            # On a fixed grid, so a late firmware loop does not stretch every period.
            due = self._next_state_us is None or now >= self._next_state_us
            if due and self._host_seen:
                period = round(self.state_period_s * 1e6)
                grid = self._next_state_us if self._next_state_us is not None else now
                self._next_state_us = max(grid + period, now - period)
                self.send(self.state())

    def _do(self, action: str) -> None:
        if action in ("safety_on", "safety_off"):
            self.set_safety(action == "safety_on")
        elif hasattr(self, action):
            getattr(self, action)()

    def draw(self) -> None:
        with self._lock:
            if self.holstered:
                self.holstered = False
                self.event(EventKind.HOLSTER_OUT)

    def holster(self) -> None:
        with self._lock:
            if not self.holstered:
                self.holstered = True
                self.event(EventKind.HOLSTER_IN)

    def set_safety(self, on: bool) -> None:
        with self._lock:
            if self.safety_on != on:
                self.safety_on = on
                self.event(EventKind.SAFETY_ON if on else EventKind.SAFETY_OFF)
                self._on_safety(on)

    def press_trigger(self) -> None:
        with self._lock:
            self.trigger_down = True
            self.event(EventKind.TRIGGER_PRESSED)
            self._on_trigger()

    def release_trigger(self) -> None:
        with self._lock:
            if self.trigger_down:
                self.trigger_down = False
                self.event(EventKind.TRIGGER_RELEASED)
                self._on_release()

    def flags(self) -> StateFlags:
        flags = StateFlags(0)
        for on, flag in (
            (self.safety_on, StateFlags.SAFETY_ON),
            (self.trigger_down, StateFlags.TRIGGER_DOWN),
            (self.holstered, StateFlags.HOLSTERED),
            (self.laser_on, StateFlags.LASER_ON),
        ):
            if on:
                flags |= flag
        return flags

    @abstractmethod
    def hello(self) -> Hello: ...

    @abstractmethod
    def state(self) -> State: ...

    @abstractmethod
    def _on_trigger(self) -> None: ...

    def _on_safety(self, on: bool) -> None:
        return None

    def _on_release(self) -> None:
        return None

    def _on_service(self, now_us: int) -> None:
        return None

    def _on_command(self, message: Message) -> bool:
        return False

    def _reset(self) -> None:
        self.safety_on, self.holstered, self.trigger_down, self.laser_on = True, True, False, False


@dataclass(frozen=True, slots=True)
class TaserSpec:
    bays: int
    probes_per_bay: int
    loads: tuple[CartridgeCode, ...]


# facts.md §1: the X26P takes one cartridge; the X2 and TASER 7 two bays; TASER 10 ten probes.
TASER_SPECS = {
    Model.TASER_X26P: TaserSpec(1, 2, (CartridgeCode.X26P_25FT,)),
    Model.TASER_X2: TaserSpec(2, 2, (CartridgeCode.X2_25FT, CartridgeCode.X2_25FT)),
    Model.TASER_7: TaserSpec(2, 2, (CartridgeCode.TASER7_STANDOFF, CartridgeCode.TASER7_CQ)),
    Model.TASER_10: TaserSpec(1, 10, (CartridgeCode.TASER10,)),
}


class TaserEmulator(ReplicaEmulator):
    """A TASER replica: bays of cartridges, one bay (or one TASER 10 probe) per trigger pull, and
    a 5 s cycle that the safety stops."""

    def __init__(
        self,
        model: Model,
        serial: str,
        clock: Clock,
        *,
        loads: tuple[CartridgeCode, ...] | None = None,
        **kwargs: Any,
    ) -> None:
        if not model.is_taser:
            raise ValueError(f"{model.slug} is not a TASER")
        super().__init__(serial, clock, **kwargs)
        self.model = model
        self.spec = TASER_SPECS[model]
        chosen = loads if loads is not None else self.spec.loads
        if len(chosen) != self.spec.bays:
            raise ValueError(f"{model.slug} has {self.spec.bays} bay(s), got {len(chosen)} loads")
        misfit = [code.cartridge_id for code in chosen if code and code.model is not model]
        if misfit:
            raise ValueError(f"{', '.join(map(str, misfit))} does not fit a {model.slug}")
        self.bays: list[tuple[CartridgeCode, int]] = [
            (code, self.spec.probes_per_bay if code else 0) for code in chosen
        ]
        self.cycle_ends_us: int | None = None

    def hello(self) -> Hello:
        return Hello(
            self.model, self.serial, self.firmware, self.spec.bays, self.spec.probes_per_bay
        )

    def state(self) -> State:
        flags = self.flags()
        if self.cycle_ends_us is not None:
            flags |= StateFlags.ARCING
        return State(flags, self.battery_pct, tuple((int(c), n) for c, n in self.bays))

    def _on_trigger(self) -> None:
        if self.safety_on:
            return
        for bay, (code, left) in enumerate(self.bays):
            if code and left:
                fired = 1 if self.model is Model.TASER_10 else left
                first = self.spec.probes_per_bay - left
                for probe in range(first, first + fired):
                    self.event(EventKind.PROBES_FIRED, bay=bay, probe=probe, value=int(code))
                self.bays[bay] = (code, left - fired)
                if left - fired == 0:
                    self.event(EventKind.CARTRIDGE_EMPTY, bay=bay)
                break
        else:
            self.event(EventKind.ARC_SWITCH)  # no live cartridge: the device arcs at the front
        self.cycle_ends_us = self.clock.now_us() + round(TASER_CYCLE_S * 1e6)

    def _on_safety(self, on: bool) -> None:
        if on and self.cycle_ends_us is not None:
            self.cycle_ends_us = None
            self.event(EventKind.CYCLE_ENDED, value=1)  # value 1: stopped by the safety

    def _on_service(self, now_us: int) -> None:
        if self.cycle_ends_us is not None and now_us >= self.cycle_ends_us:
            if self.trigger_down and self.model.held_trigger_extends_cycle:
                return  # facts.md §1: an X26P keeps the cycle going while the trigger is held
            self.cycle_ends_us = None
            self.event(EventKind.CYCLE_ENDED)

    def _on_release(self) -> None:
        # A cycle held past its 5 s ends with the trigger; an X2 or TASER 7 had already stopped.
        if self.cycle_ends_us is not None and self.clock.now_us() >= self.cycle_ends_us:
            self.cycle_ends_us = None
            self.event(EventKind.CYCLE_ENDED)

    def eject(self, bay: int = 0) -> None:
        """The officer's hand pulls the cartridge out of `bay` (CARTRIDGE_REMOVED): a press
        then only arcs at the front, or drive-stuns on a model with the mode."""
        with self._lock:
            self._on_command(SetCartridge(bay, CartridgeCode.NONE, 0))

    def _on_command(self, message: Message) -> bool:
        if isinstance(message, SetCartridge):
            if message.bay >= self.spec.bays or message.probes > self.spec.probes_per_bay:
                return False
            if message.cartridge and message.cartridge.model is not self.model:
                return False  # another model's cartridge does not fit the bay
            old = self.bays[message.bay][0]
            self.bays[message.bay] = (message.cartridge, message.probes)
            if old:
                self.event(EventKind.CARTRIDGE_REMOVED, bay=message.bay, value=int(old))
            if message.cartridge:
                self.event(
                    EventKind.CARTRIDGE_INSERTED, bay=message.bay, value=int(message.cartridge)
                )
            return True
        return False


class PistolEmulator(ReplicaEmulator):
    """A 9 mm pistol replica: a magazine, a chamber, slide lock on empty, stoppages."""

    model = Model.PISTOL

    def __init__(self, serial: str, clock: Clock, *, capacity: int = 17, **kwargs: Any) -> None:
        super().__init__(serial, clock, **kwargs)
        self.safety_on = False  # a striker-fired duty pistol has no manual safety
        self.capacity = capacity
        self.magazine_in = True
        self.rounds = capacity - 1
        self.chambered = True
        self.slide_locked = False
        self.stoppage = False

    def hello(self) -> Hello:
        return Hello(self.model, self.serial, self.firmware, magazine_capacity=self.capacity)

    def state(self) -> State:
        flags = self.flags()
        for on, flag in (
            (self.magazine_in, StateFlags.MAGAZINE_IN),
            (self.chambered, StateFlags.CHAMBERED),
            (self.slide_locked, StateFlags.SLIDE_LOCKED),
            (self.stoppage, StateFlags.STOPPAGE),
        ):
            if on:
                flags |= flag
        return State(flags, self.battery_pct, ((0, self.rounds if self.magazine_in else 0),))

    def _on_trigger(self) -> None:
        if self.stoppage or not self.chambered:
            return  # a click
        self.chambered = False
        left = self.rounds if self.magazine_in else 0
        self.event(EventKind.SHOT_FIRED, value=left)
        if self.magazine_in and self.rounds > 0:
            self.rounds -= 1
            self.chambered = True
        else:
            self.slide_locked = True
            self.event(EventKind.SLIDE_LOCKED)
            if self.magazine_in:
                self.event(EventKind.MAGAZINE_EMPTY)

    def reload(self, rounds: int | None = None) -> None:
        """Drop the magazine, seat a fresh one, and run the slide if it was locked back."""
        with self._lock:
            if self.magazine_in:
                self.magazine_in = False
                self.event(EventKind.MAGAZINE_REMOVED)
            self.magazine_in = True
            self.rounds = self.capacity if rounds is None else rounds
            self.event(EventKind.MAGAZINE_INSERTED, value=self.rounds)
            if self.slide_locked or not self.chambered:
                self.slide_locked = False
                self.event(EventKind.SLIDE_RELEASED)
                if self.rounds:
                    self.rounds -= 1
                    self.chambered = True

    def clear_stoppage(self) -> None:
        with self._lock:
            if self.stoppage:
                self.stoppage = False
                self.event(EventKind.STOPPAGE_CLEARED)

    def _on_command(self, message: Message) -> bool:
        if isinstance(message, SetMagazine):
            if message.rounds > self.capacity:
                return False
            self.magazine_in = message.inserted
            self.rounds = message.rounds
            self.chambered = message.chambered
            if message.stoppage and not self.stoppage:
                self.stoppage = True
                self.event(EventKind.STOPPAGE)
            return True
        return False

    def _reset(self) -> None:
        super()._reset()
        self.safety_on = False


class RifleEmulator(PistolEmulator):
    """A patrol-rifle (AR-15 pattern) replica: a safety selector (SAFE / SEMI, reported as the
    SAFETY_ON / SAFETY_OFF events and flag), a 30-round magazine, and a bolt that locks back on
    the last round (SLIDE_LOCKED; the bolt catch releases it, SLIDE_RELEASED). Fired, tracked
    and scored as the pistol is (docs/protocol.md)."""

    model = Model.PATROL_RIFLE

    def __init__(self, serial: str, clock: Clock, *, capacity: int = 30, **kwargs: Any) -> None:
        super().__init__(serial, clock, capacity=capacity, **kwargs)
        self.safety_on = True  # carried with the selector on SAFE

    def _on_trigger(self) -> None:
        if self.safety_on:
            return  # the selector on SAFE blocks the trigger
        super()._on_trigger()

    def _reset(self) -> None:
        super()._reset()
        self.safety_on = True


def emulator_for(model: Model, serial: str, clock: Clock, **kwargs: Any) -> ReplicaEmulator:
    """An emulator of any model; keyword options as for `ReplicaEmulator`."""
    if model is Model.PISTOL:
        return PistolEmulator(serial, clock, **kwargs)
    if model is Model.PATROL_RIFLE:
        return RifleEmulator(serial, clock, **kwargs)
    return TaserEmulator(model, serial, clock, **kwargs)
