"""The host side of one replica: open, handshake, read in the background, stamp, command.

Ports are opened only through `serial.serial_for_url`, so a real device (`/dev/ttyACM0`), an
emulator's pty, or a pySerial URL (`spy:///dev/ttyACM0` to hexdump the traffic) all take the same
path. Decoding problems are counted in `stats`, never raised into the frame loop.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import re
import secrets
import stat
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import serial

from peripherals.clock import Clock
from peripherals.clocksync import ClockSync
from peripherals.errors import (
    PeripheralError,
    PeripheralIdentityError,
    PeripheralInitError,
    PeripheralIOError,
    PeripheralNotFoundError,
    PeripheralTimeoutError,
    ProtocolVersionError,
)
from peripherals.events import PeripheralEvent
from peripherals.messages import (
    Ack,
    Event,
    EventAck,
    Fault,
    Hello,
    Identify,
    MalformedPayloadError,
    Message,
    Model,
    Nack,
    Ping,
    Pong,
    Resume,
    Session,
    SessionSet,
    State,
    UnknownMessageTypeError,
    decode_message,
)
from peripherals.registry import stale_problem
from peripherals.wire import PROTOCOL_VERSION, FrameDecoder, RawFrame, encode_frame


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    model: Model
    serial: str
    firmware: str
    bays: int
    probes_per_bay: int
    magazine_capacity: int
    protocol_version: int

    @classmethod
    def from_hello(cls, hello: Hello, version: int) -> DeviceInfo:
        return cls(
            hello.model,
            hello.serial,
            hello.firmware,
            hello.bays,
            hello.probes_per_bay,
            hello.magazine_capacity,
            version,
        )


_T = TypeVar("_T")

# docs/protocol.md, "A stalled or hung replica": the protocol asks for a STATE every 100 ms; a
# stream this much older faults the device, and so do this many PINGs in a row left unanswered
# for PONG_TIMEOUT_S each.
STATE_STALE_S = 1.0
PONG_TIMEOUT_S = 0.5
MISSED_PONGS = 3
# How many answers (ACK, NACK, PONG) nobody has collected yet a link keeps: a late answer to a
# command already retried is never collected, and the table must not grow with it.
MAX_UNCOLLECTED = 64
# How many delivered events a session remembers to drop copies of (a re-send after re-attach).
DEDUP_WINDOW = 4096


@dataclass(slots=True)
class LinkStats:
    unknown_messages: int = 0
    malformed_payloads: int = 0
    newer_version_frames: int = 0
    faults: int = 0
    duplicate_events: int = 0  # an EVENT already delivered (same sequence number and time)
    refused_events: int = 0  # events from a device that failed to prove its session


class LinkSession:
    """What outlives one link to a replica: the nonce it was given at first attach, and the
    events already delivered, so that those the replica sends again after a re-attach are
    delivered once. A re-attached link proves it reaches the same device by the nonce."""

    def __init__(self, nonce: int = 0, window: int = DEDUP_WINDOW) -> None:
        self.nonce = nonce
        self._seen: OrderedDict[tuple[int, int], None] = OrderedDict()
        self._window = window

    def first_time(self, seq: int, device_time_us: int) -> bool:
        """True the first time an event is seen. An event is its frame's sequence number and
        device time: a re-send carries both unchanged, and the time tells apart two events
        65,536 frames apart that share a number."""
        key = (seq, device_time_us)
        if key in self._seen:
            return False
        self._seen[key] = None
        if len(self._seen) > self._window:
            self._seen.popitem(last=False)
        return True


def _keep(table: dict[int, _T], key: int, value: _T) -> None:
    """Store an answer, pruning the oldest ones nobody collected."""
    table[key] = value
    while len(table) > MAX_UNCOLLECTED:
        del table[next(iter(table))]


# pySerial URLs that reach a replica over the network: HOST:PORT after the scheme.
_NETWORK_SCHEMES = ("rfc2217://", "socket://")


def port_url_problem(url: str) -> str | None:
    """Why `url` cannot name a port (None when it can): an empty one; a URL of another scheme
    than rfc2217:// and socket:// (pySerial's loop://, spy://, hwgrep://, alt:// would pass
    and fail late, with no replica behind them); a network URL that is not HOST:PORT, with a
    port from 1 to 65535 and nothing after it but a ?query (IPv6 hosts in brackets:
    socket://[::1]:5000). pySerial's own error for a missing port is a Python comparison of
    None, which names nothing the user wrote."""
    if not url.strip():
        return (
            "an empty port: name a serial device (/dev/serial/by-id/..., /dev/ttyACM0) or a"
            " network port (socket://HOST:PORT, rfc2217://HOST:PORT)"
        )
    scheme = next((s for s in _NETWORK_SCHEMES if url.startswith(s)), None)
    if scheme is None:
        if "://" in url:
            return (
                f"{url.split('://', 1)[0]}:// is not a replica's port: a serial device path,"
                " socket://HOST:PORT or rfc2217://HOST:PORT"
            )
        return None
    where = url.removeprefix(scheme).split("?", 1)[0]
    if where.startswith("["):  # an IPv6 address: [::1]:5000
        host, bracket, rest = where[1:].partition("]")
        colon, port = rest[:1], rest[1:]
        host = host if bracket else ""
    else:
        host, colon, port = where.partition(":")
    if not host or not colon or not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"a network port is {scheme}HOST:PORT with a port from 1 to 65535"
    return None


# /proc/devices' character drivers that are terminals (a serial port, a USB CDC-ACM or
# serial adapter, a pseudo-terminal, Bluetooth RFCOMM): a replica's port is one of them.
_TTY_DRIVERS = ("tty", "pts", "ptm", "/dev/ptmx", "/dev/console", "rfcomm")


def _tty_majors() -> set[int] | None:
    """The character device majors of terminal drivers, from /proc/devices (None: unknown)."""
    try:
        text = Path("/proc/devices").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    majors: set[int] = set()
    chars = text.split("Block devices:", 1)[0]
    for line in chars.splitlines():
        number, _, name = line.strip().partition(" ")
        if number.isdigit() and any(driver in name for driver in _TTY_DRIVERS):
            majors.add(int(number))
    return majors


def port_path_problem(path: str) -> str | None:
    """Why an existing device path cannot be a replica's serial port, before it is opened
    (opening one to ask would reset some boards): a folder, a file, or a character device that
    is not a terminal (/dev/null, /dev/zero: pySerial fails on them with an ioctl's errno).
    None when it may be one, or when the system does not say (no /proc/devices)."""
    try:
        mode = os.stat(path)
    except OSError:
        return None  # missing: said by the caller, as such
    if stat.S_ISDIR(mode.st_mode):
        return f"{path} is a folder, not a serial port"
    if not stat.S_ISCHR(mode.st_mode):
        return f"{path} is a file, not a serial port (a character device)"
    majors = _tty_majors()
    if majors is not None and os.major(mode.st_rdev) not in majors:
        return f"{path} is not a serial port (a device, but not a terminal)"
    return None


# How long opening a port waits out another link's exclusive lock (a probe's handshake: 1 s
# at most, ReplicaLink's handshake_timeout_s), and how often it tries again in that time.
LOCK_WAIT_S = 1.5
LOCK_RETRY_S = 0.02


def _lock_taken(exc: BaseException) -> bool:
    """Whether opening a port failed on another holder's exclusive lock (pySerial's flock)."""
    code = exc.errno if isinstance(exc, OSError) else None
    return code in (errno.EAGAIN, errno.EWOULDBLOCK)


def _open_problem(exc: BaseException, url: str) -> str:
    """Why a port would not open, once: pySerial repeats the OS error inside its own ("[Errno 2]
    could not open port P: [Errno 2] No such file or directory: 'P'", "Could not open port
    socket://H:P: [Errno 111] Connection refused"); an exclusive lock held elsewhere is said as
    such."""
    code = exc.errno if isinstance(exc, OSError) else None
    if _lock_taken(exc):
        return "in use by another program (or opened twice: its lock is taken)"
    if code is not None:
        return os.strerror(code)
    text = str(exc)
    prefix = f"could not open port {url}: "
    if text.lower().startswith(prefix.lower()):
        text = text[len(prefix) :]
    said = re.fullmatch(r"\[Errno (\d+)\] (.*)", text, re.DOTALL)
    return said.group(2) if said is not None else text


# What pySerial and the OS say when a port's device went away (a pulled USB cable, a replica
# powered off, an emulator's pty closed): said in plain words (rc20 #9), not as pySerial's
# "device reports readiness to read but returned no data (device disconnected or multiple
# access on port?)" or "[Errno 5] Input/output error".
_GONE_ERRNOS = (errno.EIO, errno.ENXIO, errno.ENODEV)


def port_lost(exc: BaseException) -> str:
    """`exc`, a port's read or write failure, in words: a device that went away is said to have
    been unplugged (or lost power), with what to do; any other failure as it stands."""
    said = str(exc)
    code = getattr(exc, "errno", None)
    if code is None and (quoted := re.search(r"\[Errno (\d+)\]", said)) is not None:
        code = int(quoted.group(1))  # pySerial's "write failed: [Errno 5] ..." has no errno
    if "returned no data" in said or code in _GONE_ERRNOS:
        return (
            "the replica was unplugged (or lost power): its port stopped answering; plug it"
            " back in (or power it on) and start again"
        )
    return said


class ReplicaLink:
    """One connected replica. Use as a context manager, or call `open()` and `close()`."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        handshake_timeout_s: float = 1.0,
        session: LinkSession | None = None,
    ) -> None:
        self.url = url
        self.clock = clock
        self.handshake_timeout_s = handshake_timeout_s
        self.info: DeviceInfo | None = None
        self.state: State | None = None
        self.sync = ClockSync()
        self.decoder = FrameDecoder()
        self.stats = LinkStats()
        # What went wrong on the line, in words an armorer can act on; never raised.
        self.problems: deque[str] = deque(maxlen=100)
        self._port: serial.SerialBase | None = None
        self._seq = 0
        self._events: queue.SimpleQueue[PeripheralEvent] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._pongs: dict[int, float] = {}
        self._sent: dict[int, float] = {}
        self._token = 0
        self._answers: dict[int, Ack | Nack] = {}
        self.session = session if session is not None else LinkSession()
        # None: no proof asked; True / False: the device's SESSION answer matched or did not.
        self.verified: bool | None = None
        self._session_answer: Session | None = None
        self.opened_s: float | None = None
        self.last_state_s: float | None = None
        self.state_times_us: deque[int] = deque(maxlen=256)  # device times of recent STATEs
        self._missed_pongs = 0
        self._hello: tuple[Hello, int] | None = None
        self._reader: threading.Thread | None = None
        self._running = threading.Event()
        self._write_lock = threading.Lock()
        self.failure: PeripheralError | None = None
        self.states_received = 0
        self.last_device_time_us: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> DeviceInfo:
        problem = port_url_problem(self.url) or stale_problem(self.url)
        if problem is not None:
            raise PeripheralNotFoundError(f"cannot open {self.url}: {problem}")
        # A scan's probe (`peripherals scan`, a lane re-attaching by serial) holds a port's lock
        # through its handshake, up to its own timeout: a run opening the port in that moment
        # waits for it, and only a lock held longer is "in use" (seen as a flaky refusal of a
        # run's own emulator while another link probed it).
        tries = max(1, round(LOCK_WAIT_S / LOCK_RETRY_S))
        for left in range(tries - 1, -1, -1):
            try:
                # Exclusive: a scan must never open a port another link is using, and two
                # programs sharing a replica would each see half its frames.
                self._port = serial.serial_for_url(
                    self.url, baudrate=115200, timeout=0.05, exclusive=True
                )
                break
            except (serial.SerialException, OSError, ValueError) as exc:  # ValueError: a bad URL
                if left and _lock_taken(exc):
                    time.sleep(LOCK_RETRY_S)
                    continue
                problem = _open_problem(exc, self.url)
                raise PeripheralNotFoundError(f"cannot open {self.url}: {problem}") from exc
        self._running.set()
        self.opened_s = self.clock.now_s()
        self._reader = threading.Thread(
            target=self._read_loop, name=f"link-{self.url}", daemon=True
        )
        self._reader.start()
        try:
            self.info = self._handshake()
        except PeripheralError:
            self.close()
            raise
        return self.info

    def close(self) -> None:
        self._running.clear()
        if self._reader is not None:
            self._reader.join(timeout=2.0)
            self._reader = None
        if self._port is not None:
            self._port.close()
            self._port = None

    def __enter__(self) -> ReplicaLink:
        if self._port is None:  # a link found by a scan arrives open
            self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _handshake(self) -> DeviceInfo:
        # IDENTIFY again every 200 ms: on a noisy line one HELLO may be lost.
        with self._cond:
            self._hello = None
        waited = 0.0
        hello = None
        while waited < self.handshake_timeout_s and hello is None:
            self.send(Identify())
            step = min(0.2, self.handshake_timeout_s - waited)
            with self._cond:
                self._cond.wait_for(lambda: self._hello is not None, step)
                hello = self._hello
            waited += step
        if hello is None:
            raise PeripheralInitError(
                f"{self.url}: no HELLO within {self.handshake_timeout_s:.1f} s; is it an OpenRange"
                " replica (docs/protocol.md)?"
            )
        message, version = hello
        if version > PROTOCOL_VERSION:
            raise ProtocolVersionError(
                f"{message.model.slug} serial {message.serial} on {self.url} speaks protocol"
                f" version {version}; this OpenRange speaks up to {PROTOCOL_VERSION}: update"
                " OpenRange"
            )
        # A first clock-sync sample, so events are stamped in host time from the start.
        self.ping()
        return DeviceInfo.from_hello(message, version)

    # -- sessions --------------------------------------------------------------------------------

    def start_session(self, nonce: int | None = None) -> LinkSession:
        """First attach: give the device a fresh nonce (from the OS's CSPRNG, not the run's
        seeded generator: it is a secret, not part of what a run replays)."""
        session = LinkSession(nonce if nonce is not None else secrets.randbits(64) | 1)
        self.session = session
        self.command(SessionSet(session.nonce))
        self.verified = True
        return session

    def resume(self, session: LinkSession, timeout_s: float = 0.25, retries: int = 3) -> None:
        """Re-attach: the device must answer RESUME with the session's nonce before anything
        it sends counts; then it sends again the events it kept, which this waits for (a PING
        barrier) and which `session` delivers once. Raises PeripheralIdentityError for a device
        that does not know the nonce (another replica reporting the same serial number)."""
        with self._cond:
            self.session = session
            self.verified = None
            self._session_answer = None
        for _ in range(retries):
            self.send(Resume())
            with self._cond:
                if self._cond.wait_for(lambda: self._session_answer is not None, timeout_s):
                    break
        else:
            raise PeripheralTimeoutError(f"{self._name()}: no SESSION answer to RESUME")
        if not self.verified:
            raise PeripheralIdentityError(
                f"{self._name()} does not hold the session it was attached with: not the same"
                " replica (or it was power-cycled); refused"
            )
        if not self.ping():
            raise PeripheralTimeoutError(f"{self._name()}: no PONG after RESUME")

    # -- health ----------------------------------------------------------------------------------

    def check_health(self) -> PeripheralError | None:
        """The link's failure, if any, after checking that the device still lives: a STATE
        stream older than STATE_STALE_S, or MISSED_PONGS PINGs in a row unanswered, fault it
        exactly as a failed port does (`failure` is set, and stays)."""
        if self.failure is not None:
            return self.failure
        now = self.clock.now_s()
        with self._cond:
            late = [t for t, sent in self._sent.items() if now - sent > PONG_TIMEOUT_S]
            for token in late:
                del self._sent[token]
            self._missed_pongs += len(late)
            missed = self._missed_pongs
        last = self.last_state_s if self.last_state_s is not None else self.opened_s
        if missed >= MISSED_PONGS:
            self.failure = PeripheralTimeoutError(
                f"{self._name()}: {missed} PINGs in a row unanswered (hung?)"
            )
        elif last is not None and now - last > STATE_STALE_S:
            self.failure = PeripheralTimeoutError(
                f"{self._name()}: no STATE for {now - last:.1f} s (protocol: every 0.1 s;"
                f" faulted past {STATE_STALE_S:g} s)"
            )
        return self.failure

    @property
    def uncollected_answers(self) -> int:
        """ACKs, NACKs and PONGs received that nobody has waited for (bounded)."""
        with self._cond:
            return len(self._answers) + len(self._pongs)

    # -- sending ---------------------------------------------------------------------------------

    def send(self, message: Message, on_write: Callable[[], None] | None = None) -> int:
        """Write one frame; returns its sequence number. `on_write` runs just before the bytes
        go out (clock sync stamps its send time there, after the encoding)."""
        port = self._port
        if port is None:
            raise PeripheralIOError(f"{self.url} is not open")
        with self._write_lock:
            self._seq = (self._seq + 1) & 0xFFFF
            seq = self._seq
            frame = encode_frame(message.TYPE, seq, 0, message.pack())
            if on_write is not None:
                on_write()
            try:
                port.write(frame)
            except (serial.SerialException, OSError) as exc:
                raise PeripheralIOError(f"{self.url}: {port_lost(exc)}") from exc
        return seq

    def send_raw(self, data: bytes) -> None:
        """Put bytes on the line as they are (conformance checks send garbage on purpose)."""
        port = self._port
        if port is None:
            raise PeripheralIOError(f"{self.url} is not open")
        with self._write_lock:
            try:
                port.write(data)
            except (serial.SerialException, OSError) as exc:
                raise PeripheralIOError(f"{self.url}: {port_lost(exc)}") from exc

    def command(self, message: Message, *, timeout_s: float = 0.25, retries: int = 3) -> None:
        """Send a command and wait for its ACK, sending it again until `retries` run out."""
        for _ in range(retries):
            answer = self.wait_answer(self.send(message), timeout_s)
            if isinstance(answer, Nack):
                raise PeripheralError(
                    f"{self._name()} refused {message.TYPE.name} (reason {answer.reason})"
                )
            if answer is not None:
                return
        raise PeripheralTimeoutError(f"{self._name()}: no ACK for {message.TYPE.name}")

    def wait_answer(self, seq: int, timeout_s: float) -> Ack | Nack | None:
        """The ACK or NACK for the frame sent with `seq`, or None after `timeout_s`."""
        with self._cond:
            if not self._cond.wait_for(lambda: seq in self._answers, timeout_s):
                return None
            return self._answers.pop(seq)

    def ping(self, timeout_s: float = 0.5) -> bool:
        """One clock-sync round trip. Because a device answers in order, every frame it sent
        before the PONG has been handled when this returns True: a lock-step simulation uses it
        as a barrier each frame."""
        try:
            token = self.send_ping()
        except PeripheralIOError as exc:
            self.failure = exc
            return False
        return self.await_pong(token, timeout_s)

    def send_ping(self) -> int:
        """Send a PING and return its token, to await later (several links ping in parallel)."""
        with self._cond:
            self._token = (self._token + 1) & 0xFFFFFFFF
            token = self._token

        def stamp() -> None:
            with self._cond:
                self._sent[token] = self.clock.now_s()

        self.send(Ping(token), on_write=stamp)
        return token

    def await_pong(self, token: int, timeout_s: float = 0.5) -> bool:
        with self._cond:
            answered = self._cond.wait_for(
                lambda: token in self._pongs or self.failure is not None, timeout_s
            )
            self._sent.pop(token, None)
            return answered and self._pongs.pop(token, None) is not None

    # -- receiving -------------------------------------------------------------------------------

    def wait_event(self, timeout_s: float) -> PeripheralEvent | None:
        """Block until the next event arrives, or None after `timeout_s`."""
        try:
            return self._events.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def poll(self) -> list[PeripheralEvent]:
        """The events received since the last poll, oldest first."""
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    def _read_loop(self) -> None:
        port = self._port
        assert port is not None
        while self._running.is_set():
            try:
                data = port.read(1)
                # Stamped on the first byte: the closest this thread gets to the wire.
                arrived = self.clock.now_s()
                if data and port.in_waiting:
                    data += port.read(port.in_waiting)
            except (serial.SerialException, OSError, TypeError) as exc:
                self.failure = PeripheralIOError(f"{self._name()}: {port_lost(exc)}")
                with self._cond:
                    self._cond.notify_all()
                return
            if data:
                for frame in self.decoder.feed(data):
                    self._handle(frame, arrived)

    def _handle(self, frame: RawFrame, received: float) -> None:
        if frame.version > PROTOCOL_VERSION:
            self.stats.newer_version_frames += 1
            self._problem(
                f"sent a frame in protocol version {frame.version}; this OpenRange speaks"
                f" version {PROTOCOL_VERSION}: update OpenRange"
            )
            if frame.msg_type != Hello.TYPE:
                return
        try:
            message = decode_message(frame.msg_type, frame.payload)
        except UnknownMessageTypeError as exc:
            self.stats.unknown_messages += 1
            self._problem(
                f"sent {exc} (protocol version {frame.version}; this OpenRange speaks version"
                f" {PROTOCOL_VERSION})"
            )
            return
        except MalformedPayloadError as exc:
            self.stats.malformed_payloads += 1
            self._problem(f"sent a malformed message: {exc}")
            return
        self.last_device_time_us = frame.device_time_us
        if isinstance(message, Event):
            if self.verified is False:
                self.stats.refused_events += 1
            elif not self.session.first_time(frame.seq, frame.device_time_us):
                self.stats.duplicate_events += 1
            else:
                model = self.info.model if self.info else Model.PISTOL
                serial_number = self.info.serial if self.info else "?"
                # To the host first, acknowledged after: the ack's write is not in the
                # trigger-to-event path.
                self._events.put(
                    PeripheralEvent(
                        serial=serial_number,
                        model=model,
                        kind=message.kind,
                        host_time_s=self._host_time(frame, received),
                        device_time_us=frame.device_time_us,
                        bay=message.bay,
                        probe=message.probe,
                        value=message.value,
                        received_s=received,
                    )
                )
            # Acknowledged every time, copies too: the device keeps an event until it hears this.
            with contextlib.suppress(PeripheralIOError):  # failing: the reader says so next
                self.send(EventAck(frame.seq))
        elif isinstance(message, State):
            self.state = message
            self.states_received += 1
            self.last_state_s = received
            self.state_times_us.append(frame.device_time_us)
        elif isinstance(message, Pong):
            with self._cond:
                _keep(self._pongs, message.token, received)
                sent = self._sent.pop(message.token, None)
                if sent is not None:
                    self.sync.add(sent, received, message.rx_time_us, frame.device_time_us)
                self._missed_pongs = 0
                self._cond.notify_all()
        elif isinstance(message, Ack | Nack):
            with self._cond:
                _keep(self._answers, message.acked_seq, message)
                self._cond.notify_all()
        elif isinstance(message, Session):
            with self._cond:
                self._session_answer = message
                # Decided here, on the reader, before the events re-sent after it are handled.
                self.verified = message.nonce == self.session.nonce and message.nonce != 0
                self._cond.notify_all()
        elif isinstance(message, Hello):
            with self._cond:
                self._hello = (message, frame.version)
                self._cond.notify_all()
        elif isinstance(message, Fault):
            self.stats.faults += 1
            self._problem(f"reported fault {message.code}: {message.text}")

    def _problem(self, what: str) -> None:
        self.problems.append(f"{self._name()} {what}")

    def _host_time(self, frame: RawFrame, received_s: float) -> float:
        if self.sync.samples == 0:
            return received_s
        return self.sync.to_host(frame.device_time_us)

    def _name(self) -> str:
        if self.info is not None:
            return f"{self.info.model.slug} serial {self.info.serial} on {self.url}"
        if self._hello is not None:
            return f"{self._hello[0].model.slug} serial {self._hello[0].serial} on {self.url}"
        return self.url
