"""The host side of one replica: open, handshake, read in the background, stamp, command.

Ports are opened only through `serial.serial_for_url`, so a real device (`/dev/ttyACM0`), an
emulator's pty, or a pySerial URL (`spy:///dev/ttyACM0` to hexdump the traffic) all take the same
path. Decoding problems are counted in `stats`, never raised into the frame loop.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from types import TracebackType

import serial

from peripherals.clock import Clock
from peripherals.clocksync import ClockSync
from peripherals.errors import (
    PeripheralError,
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
    Fault,
    Hello,
    Identify,
    MalformedPayloadError,
    Message,
    Model,
    Nack,
    Ping,
    Pong,
    State,
    UnknownMessageTypeError,
    decode_message,
)
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


@dataclass(slots=True)
class LinkStats:
    unknown_messages: int = 0
    malformed_payloads: int = 0
    newer_version_frames: int = 0
    faults: int = 0
    last_problem: str = ""


class ReplicaLink:
    """One connected replica. Use as a context manager, or call `open()` and `close()`."""

    def __init__(self, url: str, clock: Clock, *, handshake_timeout_s: float = 1.0) -> None:
        self.url = url
        self.clock = clock
        self.handshake_timeout_s = handshake_timeout_s
        self.info: DeviceInfo | None = None
        self.state: State | None = None
        self.sync = ClockSync()
        self.decoder = FrameDecoder()
        self.stats = LinkStats()
        self._port: serial.SerialBase | None = None
        self._seq = 0
        self._events: queue.SimpleQueue[PeripheralEvent] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._pongs: dict[int, float] = {}
        self._sent: dict[int, float] = {}
        self._token = 0
        self._answers: dict[int, Ack | Nack] = {}
        self._hello: tuple[Hello, int] | None = None
        self._reader: threading.Thread | None = None
        self._running = threading.Event()
        self._write_lock = threading.Lock()
        self.failure: PeripheralError | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> DeviceInfo:
        try:
            self._port = serial.serial_for_url(self.url, baudrate=115200, timeout=0.05)
        except (serial.SerialException, OSError) as exc:
            raise PeripheralNotFoundError(f"cannot open {self.url}: {exc}") from exc
        self._running.set()
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
        with self._cond:
            self._hello = None
        self.send(Identify())
        with self._cond:
            got = self._cond.wait_for(lambda: self._hello is not None, self.handshake_timeout_s)
            hello = self._hello
        if not got or hello is None:
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

    # -- sending ---------------------------------------------------------------------------------

    def send(self, message: Message) -> int:
        """Write one frame; returns its sequence number."""
        port = self._port
        if port is None:
            raise PeripheralIOError(f"{self.url} is not open")
        with self._write_lock:
            self._seq = (self._seq + 1) & 0xFFFF
            seq = self._seq
            frame = encode_frame(message.TYPE, seq, 0, message.pack())
            try:
                port.write(frame)
            except (serial.SerialException, OSError) as exc:
                raise PeripheralIOError(f"{self.url}: write failed: {exc}") from exc
        return seq

    def command(self, message: Message, *, timeout_s: float = 0.25, retries: int = 3) -> None:
        """Send a command and wait for its ACK, sending it again until `retries` run out."""
        for _ in range(retries):
            seq = self.send(message)
            with self._cond:
                if self._cond.wait_for(lambda s=seq: s in self._answers, timeout_s):  # type: ignore[misc]
                    answer = self._answers.pop(seq)
                    if isinstance(answer, Nack):
                        raise PeripheralError(
                            f"{self._name()} refused {message.TYPE.name} (reason {answer.reason})"
                        )
                    return
        raise PeripheralTimeoutError(f"{self._name()}: no ACK for {message.TYPE.name}")

    def ping(self, timeout_s: float = 0.5) -> bool:
        """One clock-sync round trip. Because a device answers in order, every frame it sent
        before the PONG has been handled when this returns True: a lock-step simulation uses it
        as a barrier each frame."""
        return self.await_pong(self.send_ping(), timeout_s)

    def send_ping(self) -> int:
        """Send a PING and return its token, to await later (several links ping in parallel)."""
        with self._cond:
            self._token = (self._token + 1) & 0xFFFFFFFF
            token = self._token
            self._sent[token] = self.clock.now_s()
        self.send(Ping(token))
        return token

    def await_pong(self, token: int, timeout_s: float = 0.5) -> bool:
        with self._cond:
            answered = self._cond.wait_for(
                lambda: token in self._pongs or self.failure is not None, timeout_s
            )
            self._sent.pop(token, None)
            return answered and self._pongs.pop(token, None) is not None

    # -- receiving -------------------------------------------------------------------------------

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
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError) as exc:
                self.failure = PeripheralIOError(f"{self._name()}: read failed: {exc}")
                with self._cond:
                    self._cond.notify_all()
                return
            if data:
                for frame in self.decoder.feed(data):
                    self._handle(frame)

    def _handle(self, frame: RawFrame) -> None:
        if frame.version > PROTOCOL_VERSION:
            self.stats.newer_version_frames += 1
            self.stats.last_problem = (
                f"{self._name()} sent protocol version {frame.version}; this host speaks up to"
                f" {PROTOCOL_VERSION}"
            )
            if frame.msg_type != Hello.TYPE:
                return
        try:
            message = decode_message(frame.msg_type, frame.payload)
        except (UnknownMessageTypeError, MalformedPayloadError) as exc:
            if isinstance(exc, UnknownMessageTypeError):
                self.stats.unknown_messages += 1
            else:
                self.stats.malformed_payloads += 1
            self.stats.last_problem = f"{self._name()}: {exc}"
            return
        received = self.clock.now_s()
        if isinstance(message, Event):
            model = self.info.model if self.info else Model.PISTOL
            serial_number = self.info.serial if self.info else "?"
            self._events.put(
                PeripheralEvent(
                    serial_number,
                    model,
                    message.kind,
                    self._host_time(frame, received),
                    frame.device_time_us,
                    message.bay,
                    message.probe,
                    message.value,
                )
            )
        elif isinstance(message, State):
            self.state = message
        elif isinstance(message, Pong):
            with self._cond:
                self._pongs[message.token] = received
                sent = self._sent.get(message.token)
                if sent is not None:
                    self.sync.add(sent, received, frame.device_time_us)
                self._cond.notify_all()
        elif isinstance(message, Ack | Nack):
            with self._cond:
                self._answers[message.acked_seq] = message
                self._cond.notify_all()
        elif isinstance(message, Hello):
            with self._cond:
                self._hello = (message, frame.version)
                self._cond.notify_all()
        elif isinstance(message, Fault):
            self.stats.faults += 1
            self.stats.last_problem = (
                f"{self._name()} reported fault {message.code}: {message.text}"
            )

    def _host_time(self, frame: RawFrame, received_s: float) -> float:
        if self.sync.samples == 0:
            return received_s
        return self.sync.to_host(frame.device_time_us)

    def _name(self) -> str:
        if self.info is None:
            return self.url
        return f"{self.info.model.slug} serial {self.info.serial}"
