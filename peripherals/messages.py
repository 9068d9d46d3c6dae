"""The messages of the replica protocol (docs/protocol.md): what each payload means."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar, Protocol, Self


class MessageType(IntEnum):
    # device -> host
    HELLO = 0x01
    STATE = 0x02
    EVENT = 0x03
    PONG = 0x04
    ACK = 0x05
    NACK = 0x06
    FAULT = 0x07
    SESSION = 0x08
    # host -> device
    IDENTIFY = 0x81
    PING = 0x82
    RECOIL = 0x83
    HAPTIC = 0x84
    SET_CARTRIDGE = 0x85
    SET_MAGAZINE = 0x86
    LASER = 0x87
    LED = 0x88
    RESET = 0x89
    SESSION_SET = 0x8A
    RESUME = 0x8B
    EVENT_ACK = 0x8C


class Model(IntEnum):
    TASER_X26P = 1
    TASER_X2 = 2
    TASER_7 = 3
    TASER_10 = 4
    PISTOL = 16
    PATROL_RIFLE = 17

    @property
    def slug(self) -> str:
        return self.name.lower().replace("_", "-")

    @classmethod
    def from_slug(cls, slug: str) -> Model:
        try:
            return cls[slug.upper().replace("-", "_")]
        except KeyError:
            known = ", ".join(m.slug for m in cls)
            raise ValueError(f"unknown replica model {slug!r}; known: {known}") from None

    @property
    def is_taser(self) -> bool:
        return not self.is_firearm

    @property
    def is_firearm(self) -> bool:
        """A pistol or the patrol rifle: a magazine, SHOT_FIRED events, tracked alike."""
        return self in (Model.PISTOL, Model.PATROL_RIFLE)

    @property
    def held_trigger_extends_cycle(self) -> bool:
        """Whether holding the trigger keeps a TASER cycle going past its 5 s. facts.md §1: the
        X26P continues while the trigger is held; the X2 and the TASER 7 stop at 5 s. The TASER 10
        is not in facts.md: it stops at 5 s, the behaviour that never over-states an exposure."""
        return self is Model.TASER_X26P


class CartridgeCode(IntEnum):
    """What sits in a TASER bay. The names are physics' cartridge ids."""

    NONE = 0
    X26P_21FT = 1
    X26P_25FT = 2
    X2_25FT = 3
    TASER7_CQ = 4
    TASER7_STANDOFF = 5
    TASER10 = 6

    @property
    def cartridge_id(self) -> str | None:
        ids = {
            CartridgeCode.X26P_21FT: "x26p-21ft",
            CartridgeCode.X26P_25FT: "x26p-25ft",
            CartridgeCode.X2_25FT: "x2-25ft",
            CartridgeCode.TASER7_CQ: "taser7-cq",
            CartridgeCode.TASER7_STANDOFF: "taser7-standoff",
            CartridgeCode.TASER10: "taser10",
        }
        return ids.get(self)

    @property
    def model(self) -> Model | None:
        """The one TASER model whose bays this cartridge fits (None: an empty bay); each
        model's cartridges are its own (physics/data/cartridges.toml gives the same)."""
        models = {
            CartridgeCode.X26P_21FT: Model.TASER_X26P,
            CartridgeCode.X26P_25FT: Model.TASER_X26P,
            CartridgeCode.X2_25FT: Model.TASER_X2,
            CartridgeCode.TASER7_CQ: Model.TASER_7,
            CartridgeCode.TASER7_STANDOFF: Model.TASER_7,
            CartridgeCode.TASER10: Model.TASER_10,
        }
        return models.get(self)


class EventKind(IntEnum):
    TRIGGER_PRESSED = 1
    TRIGGER_RELEASED = 2
    SAFETY_ON = 3
    SAFETY_OFF = 4
    ARC_SWITCH = 5
    CARTRIDGE_INSERTED = 6
    CARTRIDGE_REMOVED = 7
    PROBES_FIRED = 8
    CARTRIDGE_EMPTY = 9
    CYCLE_ENDED = 10
    SHOT_FIRED = 11
    MAGAZINE_EMPTY = 12
    MAGAZINE_INSERTED = 13
    MAGAZINE_REMOVED = 14
    SLIDE_LOCKED = 15
    SLIDE_RELEASED = 16
    STOPPAGE = 17
    STOPPAGE_CLEARED = 18
    HOLSTER_OUT = 19
    HOLSTER_IN = 20
    BATTERY_LEVEL = 21


class StateFlags(IntFlag):
    SAFETY_ON = 1 << 0
    TRIGGER_DOWN = 1 << 1
    ARCING = 1 << 2
    HOLSTERED = 1 << 3
    LASER_ON = 1 << 4
    MAGAZINE_IN = 1 << 5
    CHAMBERED = 1 << 6
    SLIDE_LOCKED = 1 << 7
    STOPPAGE = 1 << 8


class MalformedPayloadError(ValueError):
    pass


class Message(Protocol):
    TYPE: ClassVar[MessageType]

    def pack(self) -> bytes: ...

    @classmethod
    def unpack(cls, payload: bytes) -> Self: ...


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")[:64]
    return bytes([len(raw)]) + raw


def _read_text(payload: bytes, at: int) -> tuple[str, int]:
    if at >= len(payload):
        raise MalformedPayloadError("text field missing")
    n = payload[at]
    end = at + 1 + n
    if end > len(payload):
        raise MalformedPayloadError("text field runs past the payload")
    try:
        return payload[at + 1 : end].decode("utf-8"), end
    except UnicodeDecodeError as exc:
        raise MalformedPayloadError(f"text field is not UTF-8: {exc}") from None


def _unpack(fmt: struct.Struct, payload: bytes, name: str) -> tuple[int, ...]:
    if len(payload) != fmt.size:
        raise MalformedPayloadError(f"{name} payload is {len(payload)} bytes, expected {fmt.size}")
    return fmt.unpack(payload)


@dataclass(frozen=True, slots=True)
class Hello:
    """Who the device is. Sent at power-up and in answer to IDENTIFY."""

    TYPE: ClassVar[MessageType] = MessageType.HELLO
    model: Model
    serial: str
    firmware: str
    bays: int = 0
    probes_per_bay: int = 0
    magazine_capacity: int = 0

    def pack(self) -> bytes:
        caps = bytes([self.bays, self.probes_per_bay, self.magazine_capacity])
        return bytes([self.model]) + _text(self.serial) + _text(self.firmware) + caps

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        if not payload:
            raise MalformedPayloadError("empty HELLO")
        try:
            model = Model(payload[0])
        except ValueError:
            raise MalformedPayloadError(f"unknown model code {payload[0]}") from None
        serial, at = _read_text(payload, 1)
        firmware, at = _read_text(payload, at)
        if len(payload) != at + 3:
            raise MalformedPayloadError("HELLO capabilities are not 3 bytes")
        bays, probes, capacity = payload[at : at + 3]
        return cls(model, serial, firmware, bays, probes, capacity)


@dataclass(frozen=True, slots=True)
class State:
    """Periodic snapshot (>= 10 Hz). `loads` is one (cartridge code, probes left) per TASER bay,
    or one (0, rounds in the magazine) for a pistol."""

    TYPE: ClassVar[MessageType] = MessageType.STATE
    flags: StateFlags
    battery_pct: int
    loads: tuple[tuple[int, int], ...]

    def pack(self) -> bytes:
        out = struct.pack("<HBB", self.flags, self.battery_pct, len(self.loads))
        return out + b"".join(bytes(pair) for pair in self.loads)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        if len(payload) < 4:
            raise MalformedPayloadError("STATE shorter than 4 bytes")
        flags, battery, n = struct.unpack_from("<HBB", payload)
        if len(payload) != 4 + 2 * n:
            raise MalformedPayloadError("STATE load table has the wrong length")
        loads = tuple((payload[4 + 2 * i], payload[5 + 2 * i]) for i in range(n))
        return cls(StateFlags(flags), battery, loads)


_EVENT = struct.Struct("<BBBB")


@dataclass(frozen=True, slots=True)
class Event:
    """Something the officer or the device did. `bay` and `probe` index TASER bays and probes;
    `value` is rounds left after a shot, the battery percentage, or 0."""

    TYPE: ClassVar[MessageType] = MessageType.EVENT
    kind: EventKind
    bay: int = 0
    probe: int = 0
    value: int = 0

    def pack(self) -> bytes:
        return _EVENT.pack(self.kind, self.bay, self.probe, self.value)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        kind, bay, probe, value = _unpack(_EVENT, payload, "EVENT")
        try:
            return cls(EventKind(kind), bay, probe, value)
        except ValueError:
            raise MalformedPayloadError(f"unknown event kind {kind}") from None


_NONCE = struct.Struct("<Q")
_SESSION = struct.Struct("<QH")


@dataclass(frozen=True, slots=True)
class SessionSet:
    """The host starts a session at first attach: the device keeps `nonce` (and forgets events
    left unacknowledged from any earlier session) until the next SESSION_SET or a power cycle."""

    TYPE: ClassVar[MessageType] = MessageType.SESSION_SET
    nonce: int

    def pack(self) -> bytes:
        return _NONCE.pack(self.nonce)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls(*_unpack(_NONCE, payload, "SESSION_SET"))


@dataclass(frozen=True, slots=True)
class Resume:
    """The host found the device again (a re-attach): answer SESSION, then send again every
    EVENT not yet acknowledged, in order, with its original sequence number and time."""

    TYPE: ClassVar[MessageType] = MessageType.RESUME

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls()


@dataclass(frozen=True, slots=True)
class Session:
    """The answer to RESUME: the nonce the device holds (0: none) and how many events it is
    about to send again. Only the device the session was started with knows the nonce."""

    TYPE: ClassVar[MessageType] = MessageType.SESSION
    nonce: int
    pending: int

    def pack(self) -> bytes:
        return _SESSION.pack(self.nonce, self.pending)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls(*_unpack(_SESSION, payload, "SESSION"))


@dataclass(frozen=True, slots=True)
class EventAck:
    """The host has an EVENT: `seq` is that frame's sequence number. Not answered."""

    TYPE: ClassVar[MessageType] = MessageType.EVENT_ACK
    seq: int

    def pack(self) -> bytes:
        return struct.pack("<H", self.seq)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        if len(payload) != 2:
            raise MalformedPayloadError(f"EVENT_ACK payload is {len(payload)} bytes, expected 2")
        return cls(int.from_bytes(payload, "little"))


_TOKEN = struct.Struct("<I")


@dataclass(frozen=True, slots=True)
class Ping:
    """Clock sync: the device answers at once with PONG, stamped with its own clock."""

    TYPE: ClassVar[MessageType] = MessageType.PING
    token: int

    def pack(self) -> bytes:
        return _TOKEN.pack(self.token)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls(*_unpack(_TOKEN, payload, "PING"))


_PONG = struct.Struct("<IQ")


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to PING. `rx_time_us` is when the PING arrived; the header's device time is
    when the PONG left. With the host's send and receive times these are NTP's four timestamps,
    so the device's processing time does not bias clock sync."""

    TYPE: ClassVar[MessageType] = MessageType.PONG
    token: int
    rx_time_us: int

    def pack(self) -> bytes:
        return _PONG.pack(self.token, self.rx_time_us)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls(*_unpack(_PONG, payload, "PONG"))


_ACK = struct.Struct("<HB")


@dataclass(frozen=True, slots=True)
class Ack:
    TYPE: ClassVar[MessageType] = MessageType.ACK
    acked_seq: int
    reason: int = 0

    def pack(self) -> bytes:
        return _ACK.pack(self.acked_seq, self.reason)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls(*_unpack(_ACK, payload, "ACK"))


class NackReason(IntEnum):
    UNKNOWN_COMMAND = 1
    BAD_PAYLOAD = 2
    NOT_POSSIBLE = 3


@dataclass(frozen=True, slots=True)
class Nack:
    TYPE: ClassVar[MessageType] = MessageType.NACK
    acked_seq: int
    reason: int = 0

    def pack(self) -> bytes:
        return _ACK.pack(self.acked_seq, self.reason)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls(*_unpack(_ACK, payload, "NACK"))


@dataclass(frozen=True, slots=True)
class Fault:
    TYPE: ClassVar[MessageType] = MessageType.FAULT
    code: int
    text: str

    def pack(self) -> bytes:
        return bytes([self.code]) + _text(self.text)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        if not payload:
            raise MalformedPayloadError("empty FAULT")
        text, _ = _read_text(payload, 1)
        return cls(payload[0], text)


@dataclass(frozen=True, slots=True)
class Identify:
    TYPE: ClassVar[MessageType] = MessageType.IDENTIFY

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls()


@dataclass(frozen=True, slots=True)
class Reset:
    TYPE: ClassVar[MessageType] = MessageType.RESET

    def pack(self) -> bytes:
        return b""

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls()


_PULSE = struct.Struct("<BH")


@dataclass(frozen=True, slots=True)
class Recoil:
    TYPE: ClassVar[MessageType] = MessageType.RECOIL
    strength: int
    duration_ms: int

    def pack(self) -> bytes:
        return _PULSE.pack(self.strength, self.duration_ms)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls(*_unpack(_PULSE, payload, "RECOIL"))


@dataclass(frozen=True, slots=True)
class Haptic:
    TYPE: ClassVar[MessageType] = MessageType.HAPTIC
    strength: int
    duration_ms: int

    def pack(self) -> bytes:
        return _PULSE.pack(self.strength, self.duration_ms)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        return cls(*_unpack(_PULSE, payload, "HAPTIC"))


_SET_CARTRIDGE = struct.Struct("<BBB")


@dataclass(frozen=True, slots=True)
class SetCartridge:
    """The instructor loads (or empties) a TASER bay."""

    TYPE: ClassVar[MessageType] = MessageType.SET_CARTRIDGE
    bay: int
    cartridge: CartridgeCode
    probes: int

    def pack(self) -> bytes:
        return _SET_CARTRIDGE.pack(self.bay, self.cartridge, self.probes)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        bay, code, probes = _unpack(_SET_CARTRIDGE, payload, "SET_CARTRIDGE")
        try:
            return cls(bay, CartridgeCode(code), probes)
        except ValueError:
            raise MalformedPayloadError(f"unknown cartridge code {code}") from None


_SET_MAGAZINE = struct.Struct("<BBBB")


@dataclass(frozen=True, slots=True)
class SetMagazine:
    """The instructor sets the pistol's magazine, or induces a stoppage."""

    TYPE: ClassVar[MessageType] = MessageType.SET_MAGAZINE
    inserted: bool
    rounds: int
    chambered: bool
    stoppage: bool = False

    def pack(self) -> bytes:
        return _SET_MAGAZINE.pack(self.inserted, self.rounds, self.chambered, self.stoppage)

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        inserted, rounds, chambered, stoppage = _unpack(_SET_MAGAZINE, payload, "SET_MAGAZINE")
        return cls(bool(inserted), rounds, bool(chambered), bool(stoppage))


@dataclass(frozen=True, slots=True)
class Laser:
    TYPE: ClassVar[MessageType] = MessageType.LASER
    on: bool

    def pack(self) -> bytes:
        return bytes([self.on])

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        if len(payload) != 1:
            raise MalformedPayloadError("LASER payload is not 1 byte")
        return cls(bool(payload[0]))


@dataclass(frozen=True, slots=True)
class Led:
    TYPE: ClassVar[MessageType] = MessageType.LED
    red: int
    green: int
    blue: int

    def pack(self) -> bytes:
        return bytes([self.red, self.green, self.blue])

    @classmethod
    def unpack(cls, payload: bytes) -> Self:
        if len(payload) != 3:
            raise MalformedPayloadError("LED payload is not 3 bytes")
        return cls(payload[0], payload[1], payload[2])


MESSAGES: dict[MessageType, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        State,
        Event,
        Ping,
        Pong,
        Ack,
        Nack,
        Fault,
        Identify,
        Reset,
        Recoil,
        Haptic,
        SetCartridge,
        SetMagazine,
        Laser,
        Led,
        SessionSet,
        Resume,
        Session,
        EventAck,
    )
}


class UnknownMessageTypeError(ValueError):
    pass


def decode_message(msg_type: int, payload: bytes) -> Message:
    try:
        cls = MESSAGES[MessageType(msg_type)]
    except ValueError:
        raise UnknownMessageTypeError(f"unknown message type 0x{msg_type:02x}") from None
    return cls.unpack(payload)
