"""SPDY/3.1 framing (api/spdy.py) against the spec's wire layouts: control and data frame
headers, each control frame's payload, the name/value block, zlib with the spec's
dictionary and one compression context per direction, and a byte stream cut anywhere."""

from __future__ import annotations

import struct
import zlib

import pytest

from api import spdy


def test_the_dictionary_is_the_specs() -> None:
    # 1423 bytes, opening with the length-prefixed "options" and ending in "enq=0."
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert spdy.DICTIONARY.endswith(b",*,enq=0.")
    # zlib (RFC 1950) names a preset dictionary in the stream header by its Adler-32.
    block = spdy.HeaderCompressor().compress({"port": "80"})
    assert block[1] & 0x20  # FDICT
    assert struct.unpack(">I", block[2:6])[0] == spdy.DICTIONARY_ID == 0xE3C6A7C2


def test_control_frames_have_the_specs_layout() -> None:
    w = spdy.FrameWriter()
    #                 C|ver=3     type=6(PING) flags len=4    id
    assert w.encode(spdy.Ping(1)) == bytes.fromhex("8003 0006 00 000004 00000001")
    assert w.encode(spdy.RstStream(1, spdy.CANCEL)) == bytes.fromhex(
        "8003 0003 00 000008 00000001 00000005"
    )
    assert w.encode(spdy.GoAway(7, spdy.GOAWAY_OK)) == bytes.fromhex(
        "8003 0007 00 000008 00000007 00000000"
    )
    assert w.encode(spdy.WindowUpdate(3, 65536)) == bytes.fromhex(
        "8003 0009 00 000008 00000003 00010000"
    )
    assert w.encode(spdy.Settings({4: 100})) == bytes.fromhex(
        "8003 0004 00 00000c 00000001 00000004 00000064"
    )


def test_data_frames_carry_the_stream_id_flags_and_length() -> None:
    w = spdy.FrameWriter()
    assert w.encode(spdy.DataFrame(3, b"hi", fin=True)) == bytes.fromhex("00000003 01 000002 6869")
    assert w.encode(spdy.DataFrame(5, b"")) == bytes.fromhex("00000005 00 000000")
    with pytest.raises(spdy.SpdyError):
        w.encode(spdy.DataFrame(1, b"x" * (spdy.MAX_LENGTH + 1)))


def test_the_name_value_block() -> None:
    block = spdy.header_block({"Port": "80", "streamtype": "data"})
    assert block == (
        b"\x00\x00\x00\x02"
        + b"\x00\x00\x00\x04port\x00\x00\x00\x0280"
        + b"\x00\x00\x00\x0astreamtype\x00\x00\x00\x04data"
    )
    assert spdy.parse_header_block(block) == {"port": "80", "streamtype": "data"}
    with pytest.raises(spdy.SpdyError):
        spdy.parse_header_block(block[:-2])


def test_syn_stream_layout_and_round_trip() -> None:
    raw = spdy.FrameWriter().encode(
        spdy.SynStream(1, {"streamtype": "error", "port": "80", "requestid": "0"}, priority=2)
    )
    c_version, frame_type, flags_length = struct.unpack(">HHI", raw[:8])
    assert (c_version, frame_type, flags_length >> 24) == (0x8003, spdy.SYN_STREAM, 0)
    assert flags_length & 0xFFFFFF == len(raw) - 8
    sid, assoc, pri, slot = struct.unpack(">IIBB", raw[8:18])
    assert (sid, assoc, pri, slot) == (1, 0, 2 << 5, 0)
    # The header block is the zlib stream of the name/value block.
    z = zlib.decompressobj(zdict=spdy.DICTIONARY)
    assert spdy.parse_header_block(z.decompress(raw[18:]))["streamtype"] == "error"


def test_header_compression_is_one_stream_per_direction() -> None:
    w, r = spdy.FrameWriter(), spdy.FrameReader()
    frames: list[spdy.Frame] = [
        spdy.SynStream(1, {"streamtype": "error", "port": "80", "requestid": "0"}),
        spdy.SynStream(3, {"streamtype": "data", "port": "80", "requestid": "0"}),
        spdy.SynReply(1),
        spdy.DataFrame(3, b"GET / HTTP/1.1\r\n\r\n"),
        spdy.HeadersFrame(3, {"x": "y"}, fin=True),
        spdy.DataFrame(3, b"", fin=True),
    ]
    wire = b"".join(w.encode(f) for f in frames)
    for i in range(len(wire)):  # a WebSocket message may hold any piece of the stream
        r.feed(wire[i : i + 1])
    assert list(r.frames()) == frames
    # The second block refers back to the first: a fresh context cannot read it alone.
    second = spdy.FrameWriter()
    second.encode(frames[0])
    block = second.encode(frames[1])[18:]
    with pytest.raises(spdy.SpdyError):
        spdy.HeaderDecompressor().decompress(block)


def test_frames_arrive_whole_from_pieces() -> None:
    w, r = spdy.FrameWriter(), spdy.FrameReader()
    wire = w.encode(spdy.Ping(3)) + w.encode(spdy.DataFrame(1, b"abc"))
    r.feed(wire[:15])  # the PING and 3 bytes of the data frame
    assert list(r.frames()) == [spdy.Ping(3)]
    r.feed(wire[15:])
    assert list(r.frames()) == [spdy.DataFrame(1, b"abc")]
    assert list(r.frames()) == []


def test_unknown_control_frames_are_kept_and_other_versions_refused() -> None:
    r = spdy.FrameReader()
    r.feed(bytes.fromhex("8003 000a 00 000002 abcd"))  # type 10: CREDENTIAL, unused here
    assert list(r.frames()) == [spdy.UnknownControl(10, 0, b"\xab\xcd")]
    r.feed(bytes.fromhex("8002 0006 00 000004 00000001"))  # SPDY/2 PING
    with pytest.raises(spdy.SpdyError, match="version 2"):
        list(r.frames())
    cut = spdy.FrameReader()
    cut.feed(bytes.fromhex("8003 0003 00 000004 00000001"))  # RST_STREAM without a status
    with pytest.raises(spdy.SpdyError):
        list(cut.frames())
