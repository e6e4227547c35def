"""SPDY/3.1 framing, as far as Kubernetes' port-forward uses it. Pure: bytes in, frames
out, and back; no sockets.

Why hand-written: kubectl 1.35 port-forwards over SPDY/3.1 (tunnelled in WebSocket binary
messages, ``SPDY/3.1+portforward.k8s.io``, or over a plain ``Upgrade: SPDY/3.1``), and no
maintained Python SPDY/3.1 library exists (PyPI has none kept up since SPDY's retirement
in 2016; HTTP/2 libraries do not speak it). The subset here is the spec's framing layer
(draft-mbelshe-httpbis-spdy-00 as amended by SPDY/3.1): control frames SYN_STREAM,
SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE and DATA frames;
header blocks compressed with one zlib stream per direction seeded with the spec's
dictionary. Kubernetes' peer (moby/spdystream) keeps no flow-control windows, so neither
does this module: WINDOW_UPDATE is parsed and may be ignored.

Wire layouts (big-endian):

    control: |1|version(15)=3|type(16)| flags(8) | length(24) | payload
    data:    |0|stream-id(31)         | flags(8) | length(24) | payload

``FrameReader`` takes the byte stream in pieces of any size (a WebSocket message may carry
part of a frame, or several) and yields whole frames.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

VERSION = 3

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS = 1, 2, 3, 4
PING, GOAWAY, HEADERS, WINDOW_UPDATE = 6, 7, 8, 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02  # SYN_STREAM only

# RST_STREAM status codes (spec 2.6.3).
PROTOCOL_ERROR, INVALID_STREAM, REFUSED_STREAM, CANCEL, INTERNAL_ERROR = 1, 2, 3, 5, 6
# GOAWAY status codes (spec 2.6.6).
GOAWAY_OK, GOAWAY_PROTOCOL_ERROR, GOAWAY_INTERNAL_ERROR = 0, 1, 2

MAX_LENGTH = 0xFFFFFF  # the 24-bit length field
_STREAM_MASK = 0x7FFFFFFF


class SpdyError(ValueError):
    """Bytes that are not SPDY/3 the way this module reads it."""


# -- the header compression dictionary (spec 2.6.10.1) ---------------------------------------

# The spec's dictionary is these words, each preceded by its length as 4 bytes big-endian,
# then the run of common values below, unprefixed. Both peers must use exactly it: zlib
# names it in each stream's header by its Adler-32 (DICTIONARY_ID).
# ("200_OK" is the one word "200 OK".)
_DICTIONARY_WORDS = tuple(
    w.replace("_", " ")
    for w in (
        "options head post put delete trace accept accept-charset accept-encoding "
        "accept-language accept-ranges age allow authorization cache-control connection "
        "content-base content-encoding content-language content-length content-location "
        "content-md5 content-range content-type date etag expect expires from host if-match "
        "if-modified-since if-none-match if-range if-unmodified-since last-modified location "
        "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after "
        "server te trailer transfer-encoding upgrade user-agent vary via warning "
        "www-authenticate method get status 200_OK version HTTP/1.1 url public set-cookie "
        "keep-alive origin"
    ).split(" ")
)
_DICTIONARY_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502"
    "504505203 Non-Authoritative Information204 No Content301 Moved Permanently"
    "400 Bad Request401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error"
    "501 Not Implemented503 Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct "
    "Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,"
    "image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = (
    b"".join(struct.pack(">I", len(w)) + w.encode() for w in _DICTIONARY_WORDS)
    + _DICTIONARY_TAIL.encode()
)
DICTIONARY_ID = zlib.adler32(DICTIONARY)


# -- frames -------------------------------------------------------------------------------

Headers = dict[str, str]  # names lower-case; several values of one name joined by NUL


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    associated_to: int = 0
    priority: int = 0  # 0 (highest) .. 7
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class Settings:
    values: dict[int, int]  # setting id -> value
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    ping_id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int  # 0: the session's window (SPDY/3.1)
    delta: int


@dataclass(frozen=True)
class UnknownControl:
    """A control frame type this module does not model; the spec says ignore it."""

    frame_type: int
    flags: int
    payload: bytes


Frame = (
    DataFrame
    | SynStream
    | SynReply
    | HeadersFrame
    | RstStream
    | Settings
    | Ping
    | GoAway
    | WindowUpdate
    | UnknownControl
)


# -- header blocks ------------------------------------------------------------------------


def header_block(headers: Headers) -> bytes:
    """The uncompressed name/value block: a 4-byte count, then each name and value
    with a 4-byte length."""
    out = [struct.pack(">I", len(headers))]
    for name, value in headers.items():
        n, v = name.lower().encode(), value.encode()
        out += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
    return b"".join(out)


def parse_header_block(block: bytes) -> Headers:
    """An uncompressed name/value block back to headers; SpdyError when it is cut."""
    try:
        (count,) = struct.unpack_from(">I", block, 0)
        at, headers = 4, {}
        for _ in range(count):
            (n,) = struct.unpack_from(">I", block, at)
            name = block[at + 4 : at + 4 + n]
            at += 4 + n
            (v,) = struct.unpack_from(">I", block, at)
            value = block[at + 4 : at + 4 + v]
            at += 4 + v
            if len(name) != n or len(value) != v or not name:
                raise SpdyError("a header name or value runs past the block")
            headers[name.decode().lower()] = value.decode()
    except struct.error as e:
        raise SpdyError(f"a header block is cut short: {e}") from e
    return headers


class HeaderCompressor:
    """One direction's zlib stream: every block is a sync-flushed piece of it."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, zdict=DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        return self._z.compress(header_block(headers)) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    """The other direction's zlib stream, read block by block."""

    def __init__(self) -> None:
        self._z = zlib.decompressobj(zdict=DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            return parse_header_block(self._z.decompress(data))
        except zlib.error as e:
            raise SpdyError(f"a header block does not decompress: {e}") from e


# -- encoding -----------------------------------------------------------------------------


def _control(frame_type: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise SpdyError(f"a control frame of {len(payload)} bytes exceeds 2^24-1")
    return struct.pack(">HHI", 0x8000 | VERSION, frame_type, (flags << 24) | len(payload)) + payload


def _sid(stream_id: int) -> int:
    if not 0 <= stream_id <= _STREAM_MASK:
        raise SpdyError(f"stream id {stream_id} is not 31 bits")
    return stream_id


class FrameWriter:
    """Frames to bytes, with this direction's header compression context."""

    def __init__(self) -> None:
        self._headers = HeaderCompressor()

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_LENGTH:
                raise SpdyError(f"a data frame of {len(frame.data)} bytes exceeds 2^24-1")
            flags = FLAG_FIN if frame.fin else 0
            head = struct.pack(">II", _sid(frame.stream_id), (flags << 24) | len(frame.data))
            return head + frame.data
        if isinstance(frame, SynStream):
            flags = (FLAG_FIN if frame.fin else 0) | (
                FLAG_UNIDIRECTIONAL if frame.unidirectional else 0
            )
            fixed = struct.pack(
                ">IIBB", _sid(frame.stream_id), _sid(frame.associated_to), frame.priority << 5, 0
            )
            return _control(SYN_STREAM, flags, fixed + self._headers.compress(frame.headers))
        if isinstance(frame, SynReply | HeadersFrame):
            kind = SYN_REPLY if isinstance(frame, SynReply) else HEADERS
            payload = struct.pack(">I", _sid(frame.stream_id)) + self._headers.compress(
                frame.headers
            )
            return _control(kind, FLAG_FIN if frame.fin else 0, payload)
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, struct.pack(">II", _sid(frame.stream_id), frame.status))
        if isinstance(frame, Settings):
            entries = b"".join(
                struct.pack(">II", sid & 0xFFFFFF, v) for sid, v in frame.values.items()
            )
            count = struct.pack(">I", len(frame.values))
            return _control(SETTINGS, 1 if frame.clear else 0, count + entries)
        if isinstance(frame, Ping):
            return _control(PING, 0, struct.pack(">I", frame.ping_id))
        if isinstance(frame, GoAway):
            payload = struct.pack(">II", _sid(frame.last_good_stream_id), frame.status)
            return _control(GOAWAY, 0, payload)
        if isinstance(frame, WindowUpdate):
            return _control(
                WINDOW_UPDATE, 0, struct.pack(">II", _sid(frame.stream_id), frame.delta)
            )
        return _control(frame.frame_type, frame.flags, frame.payload)


# -- decoding -----------------------------------------------------------------------------


class FrameReader:
    """Bytes of one direction in, whole frames out (``feed`` then iterate ``frames``)."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._headers = HeaderDecompressor()

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def frames(self) -> Iterator[Frame]:
        """Every whole frame received so far, in order; the rest waits for more bytes."""
        while len(self._buffer) >= 8:
            first, flags_length = struct.unpack_from(">II", self._buffer, 0)
            length = flags_length & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                return
            flags = flags_length >> 24
            payload = bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            if not first & 0x80000000:
                yield DataFrame(first & _STREAM_MASK, payload, bool(flags & FLAG_FIN))
                continue
            version, frame_type = (first >> 16) & 0x7FFF, first & 0xFFFF
            if version != VERSION:
                raise SpdyError(f"SPDY version {version} is not spoken here (only 3)")
            yield self._control(frame_type, flags, payload)

    def _control(self, frame_type: int, flags: int, payload: bytes) -> Frame:
        fin = bool(flags & FLAG_FIN)
        try:
            if frame_type == SYN_STREAM:
                sid, assoc, pri, _slot = struct.unpack_from(">IIBB", payload, 0)
                return SynStream(
                    sid & _STREAM_MASK,
                    self._headers.decompress(payload[10:]),
                    assoc & _STREAM_MASK,
                    pri >> 5,
                    fin,
                    bool(flags & FLAG_UNIDIRECTIONAL),
                )
            if frame_type in (SYN_REPLY, HEADERS):
                (sid,) = struct.unpack_from(">I", payload, 0)
                headers = self._headers.decompress(payload[4:])
                if frame_type == SYN_REPLY:
                    return SynReply(sid & _STREAM_MASK, headers, fin)
                return HeadersFrame(sid & _STREAM_MASK, headers, fin)
            if frame_type == RST_STREAM:
                sid, status = struct.unpack_from(">II", payload, 0)
                return RstStream(sid & _STREAM_MASK, status)
            if frame_type == SETTINGS:
                (count,) = struct.unpack_from(">I", payload, 0)
                values = {}
                for i in range(count):
                    sid, value = struct.unpack_from(">II", payload, 4 + 8 * i)
                    values[sid & 0xFFFFFF] = value
                return Settings(values, bool(flags & 1))
            if frame_type == PING:
                return Ping(struct.unpack_from(">I", payload, 0)[0])
            if frame_type == GOAWAY:
                sid, status = struct.unpack_from(">II", payload, 0)
                return GoAway(sid & _STREAM_MASK, status)
            if frame_type == WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", payload, 0)
                return WindowUpdate(sid & _STREAM_MASK, delta & _STREAM_MASK)
        except struct.error as e:
            raise SpdyError(f"control frame type {frame_type} is cut short: {e}") from e
        return UnknownControl(frame_type, flags, payload)
