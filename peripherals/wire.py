"""The framing layer of the OpenRange replica protocol (docs/protocol.md), sans I/O.

A frame on the wire is COBS(header | payload | crc16) followed by one 0x00 byte. The header is
`<BBHQ`: protocol version, message type, sequence number, device time in microseconds. The CRC is
CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over header and payload, big-endian.
"""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass, field

from peripherals.messages import MessageType

PROTOCOL_VERSION = 1
# Recovery from noise accepts only frames of these types.
KNOWN_TYPES = frozenset(int(t) for t in MessageType)
HEADER = struct.Struct("<BBHQ")
CRC_SIZE = 2
MAX_FRAME = 256  # decoded bytes; a longer run without a delimiter is garbage
# The longest a frame can be on the wire, delimiter excluded: COBS adds a code byte per 254 bytes.
MAX_ENCODED = MAX_FRAME + 2
# Where a frame may start inside noise: COBS puts a code byte first, and since the version and
# the type are never 0, the code byte is at least 3 and the next two bytes are the version and a
# known type, as they are. A C-speed regex finds these few places; trying every offset in Python
# made garbage cost several times as much per byte as valid frames (issue 12, item 22).
_START = re.compile(
    b"(?=[\\x03-\\xff]["
    + b"".join(re.escape(bytes([v])) for v in range(1, PROTOCOL_VERSION + 1))
    + b"]["
    + b"".join(re.escape(bytes([t])) for t in sorted(KNOWN_TYPES))
    + b"])",
    re.DOTALL,
)


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: binascii's CRC-CCITT started from 0xFFFF."""
    return binascii.crc_hqx(data, 0xFFFF)


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    for block in data.split(b"\x00"):
        # A COBS code byte covers at most 254 data bytes.
        while len(block) >= 254:
            out.append(255)
            out += block[:254]
            block = block[254:]
        out.append(len(block) + 1)
        out += block
    return bytes(out)


class CobsError(ValueError):
    pass


def cobs_decode(data: bytes) -> bytes:
    if 0 in data:
        raise CobsError("zero byte inside a COBS frame")
    # Each code byte says where the next zero goes back: write the zeros into a copy rather than
    # rebuilding the output block by block (half the cost on a header full of zero bytes).
    out = bytearray(data)
    n = len(data)
    i = 0
    while i < n:
        code = data[i]
        if code == 255:
            return _cobs_decode_blocks(data)  # runs of 254 bytes: never in a frame this short
        i += code
        if i < n:
            out[i] = 0
        elif i > n:
            raise CobsError("COBS block runs past the end of the frame")
    del out[0]
    return bytes(out)


def _cobs_decode_blocks(data: bytes) -> bytes:
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        end = i + code
        if end > n:
            raise CobsError("COBS block runs past the end of the frame")
        out += data[i + 1 : end]
        i = end
        if code < 255 and i < n:
            out.append(0)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class RawFrame:
    version: int
    msg_type: int
    seq: int
    device_time_us: int
    payload: bytes


def encode_frame(
    msg_type: int,
    seq: int,
    device_time_us: int,
    payload: bytes,
    version: int = PROTOCOL_VERSION,
    crc_xor: int = 0,
) -> bytes:
    """One frame, delimiter included. `crc_xor` spoils the CRC on purpose (fault injection)."""
    body = HEADER.pack(version, msg_type, seq & 0xFFFF, device_time_us) + payload
    return cobs_encode(body + (crc16(body) ^ crc_xor).to_bytes(2, "big")) + b"\x00"


@dataclass(slots=True)
class DecoderStats:
    """Counted, never raised: a noisy line must not stop the frame loop."""

    frames: int = 0
    crc_errors: int = 0
    framing_errors: int = 0
    oversize: int = 0
    bytes_discarded: int = 0
    recovered: int = 0
    sequence_gaps: int = 0
    frames_lost: int = 0


@dataclass(slots=True)
class FrameDecoder:
    """Incremental decoder: feed it bytes as they arrive, get whole frames back.

    After garbage it resynchronises at the next 0x00 delimiter, whatever the read boundaries:
    a run of noise with no delimiter keeps only its last `MAX_ENCODED` bytes (the most a frame
    glued to its end can span), so a valid frame after any amount of noise is recovered, and
    garbage costs no more per byte than valid frames. Sequence gaps are counted per direction of
    one link; a frame whose number is behind the newest (a re-sent event, a duplicate) is no gap.
    """

    stats: DecoderStats = field(default_factory=DecoderStats)
    _buffer: bytearray = field(default_factory=bytearray)
    _last_seq: int | None = None

    def feed(self, data: bytes) -> list[RawFrame]:
        self._buffer += data
        if 0 not in data:
            if len(self._buffer) > 2 * MAX_ENCODED:
                # Too long for a frame: drop the front, but keep what may be the start of a frame
                # that a later read completes (clearing it all lost that frame, issue 12 item 22).
                cut = len(self._buffer) - MAX_ENCODED
                self.stats.oversize += 1
                self.stats.bytes_discarded += cut
                del self._buffer[:cut]
            return []
        *chunks, rest = bytes(self._buffer).split(b"\x00")
        self._buffer = bytearray(rest)
        frames = []
        for chunk in chunks:
            frame = self._decode(chunk)
            if frame is not None:
                frames.append(frame)
        return frames

    def _decode(self, chunk: bytes) -> RawFrame | None:
        if not chunk:
            return None  # back-to-back delimiters are a legal way to resynchronise
        if len(chunk) > MAX_ENCODED:
            self.stats.oversize += 1
            self.stats.bytes_discarded += len(chunk) - MAX_ENCODED
            chunk = chunk[-MAX_ENCODED:]  # a frame may still end this run of bytes
        body, problem = _checked_body(chunk)
        if body is None:
            body = self._recover(chunk)
            if body is None:
                if problem == "crc":
                    self.stats.crc_errors += 1
                else:
                    self.stats.framing_errors += 1
                self.stats.bytes_discarded += len(chunk)
                return None
        version, msg_type, seq, device_time_us = HEADER.unpack_from(body)
        if self._last_seq is None:
            self._last_seq = seq
        else:
            ahead = (seq - self._last_seq) & 0xFFFF
            if 0 < ahead < 0x8000:
                if ahead > 1:
                    self.stats.sequence_gaps += 1
                    self.stats.frames_lost += ahead - 1
                self._last_seq = seq
        self.stats.frames += 1
        return RawFrame(version, msg_type, seq, device_time_us, body[HEADER.size : -CRC_SIZE])

    def _recover(self, chunk: bytes) -> bytes | None:
        """Noise glued to the front of a frame, with no delimiter between: look for a valid
        frame that ends the chunk. Only a plausible header is accepted, so noise that happens to
        pass the CRC (1 in 65,536) is not taken for a frame.

        Only offsets that look like a frame's first three bytes are tried (`_START`), and only
        those whose chain of COBS code bytes lands exactly on the chunk's end are decoded; chains
        merge, so each byte is walked at most once per chunk."""
        n = len(chunk)
        ends: dict[int, bool] = {}  # code-byte offset -> its chain lands exactly on the end
        # The shortest frame (an empty payload) is its header and CRC plus one COBS code byte.
        # The search runs to the chunk's end: an `endpos` would also cut the lookahead of
        # `_START` short, and a frame with an empty payload that ends the chunk was never tried.
        last = n - (HEADER.size + CRC_SIZE + 1)
        for match in _START.finditer(chunk, 1):
            start = match.start()
            if start > last:
                break
            path = []
            i = start
            while i < n and i not in ends:
                path.append(i)
                i += chunk[i]
            lands = i == n if i >= n else ends[i]
            for p in path:
                ends[p] = lands
            if not lands:
                continue
            body, _ = _checked_body(chunk[start:])
            if body is not None and _plausible(body):
                self.stats.recovered += 1
                self.stats.bytes_discarded += start
                return body
        return None


def _checked_body(chunk: bytes) -> tuple[bytes | None, str]:
    try:
        body = cobs_decode(chunk)
    except CobsError:
        return None, "framing"
    if len(body) < HEADER.size + CRC_SIZE:
        return None, "framing"
    if crc16(body[:-CRC_SIZE]) != int.from_bytes(body[-CRC_SIZE:], "big"):
        return None, "crc"
    return body, ""


def _plausible(body: bytes) -> bool:
    version, msg_type = body[0], body[1]
    return 1 <= version <= PROTOCOL_VERSION and msg_type in KNOWN_TYPES
