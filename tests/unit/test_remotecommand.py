"""The remote command channel codec (api/remotecommand.py): frames as Kubernetes' wsstream
writes them, the exit Status of v4/v5, v5's close signal, the request options."""

from __future__ import annotations

import orjson
import pytest
from starlette.datastructures import QueryParams

from api import remotecommand as rc
from api.errors import ApiError


def test_binary_frames_carry_the_channel_byte_first() -> None:
    codec = rc.ChannelCodec(rc.V5)
    assert codec.encode(rc.STDOUT, b"hi\n") == b"\x01hi\n"
    assert codec.decode(b"\x00foo") == rc.Frame(rc.STDIN, b"foo")
    assert codec.decode(b"\x04" + rc.resize_payload(80, 24)) == rc.Frame(
        rc.RESIZE, b'{"Width":80,"Height":24}'
    )
    assert codec.decode(b"") is None
    # The Python client sends stdin as text messages: the same frame as bytes.
    assert codec.decode("\x00ls\n") == rc.Frame(rc.STDIN, b"ls\n")


def test_v5_close_signal_half_closes_one_channel() -> None:
    v5 = rc.ChannelCodec(rc.V5)
    assert v5.encode_close(rc.STDIN) == b"\xff\x00"
    assert v5.decode(b"\xff\x00") == rc.Frame(rc.STDIN, close=True)
    with pytest.raises(ValueError, match="exactly one channel byte"):
        v5.decode(b"\xff\x00\x01")
    # Before v5, 255 is only a channel number nobody uses; there is no close signal.
    v4 = rc.ChannelCodec(rc.V4)
    assert v4.decode(b"\xff\x00") == rc.Frame(255, b"\x00")
    with pytest.raises(ValueError):
        v4.encode_close(rc.STDIN)


def test_base64_protocols_send_text_with_an_ascii_channel() -> None:
    codec = rc.ChannelCodec(rc.V1_BASE64)
    # wsstream's own example: "foo\n" on stdin is "0Zm9vCg==".
    assert codec.decode("0Zm9vCg==") == rc.Frame(rc.STDIN, b"foo\n")
    assert codec.encode(rc.STDOUT, b"\n") == "1Cg=="
    with pytest.raises(ValueError, match="base64"):
        codec.decode("0%%%")


def test_exit_status_is_a_status_on_v4_and_v5_and_text_before() -> None:
    v4 = rc.ChannelCodec(rc.V4)
    failed = orjson.loads(v4.exit_payload(3, ["sh", "-c", "exit 3"]))
    assert failed["status"] == "Failure" and failed["reason"] == "NonZeroExitCode"
    assert failed["details"]["causes"] == [{"reason": "ExitCode", "message": "3"}]
    assert orjson.loads(v4.exit_payload(0)) == {"metadata": {}, "status": "Success"}
    assert rc.exit_code_of(v4.exit_payload(3)) == 3
    assert rc.exit_code_of(v4.exit_payload(0)) == 0
    v1 = rc.ChannelCodec(rc.V1)
    assert v1.exit_payload(0) == b""
    assert b"exit code 2" in v1.exit_payload(2)
    assert rc.exit_code_of(b"") == 0


def test_a_failure_that_is_no_exit_code_raises_its_message() -> None:
    payload = rc.ChannelCodec(rc.V5).error_payload("container not found")
    with pytest.raises(rc.StreamError, match="container not found"):
        rc.exit_code_of(payload)
    with pytest.raises(rc.StreamError, match="no ExitCode cause"):
        rc.exit_code_of(b'{"status":"Failure","reason":"NonZeroExitCode","details":{}}')


def test_resize_frames_are_checked() -> None:
    assert rc.parse_resize(b'{"Width":120,"Height":40}') == (120, 40)
    for bad in (b"80x24", b'{"Width":80}', b'{"Width":-1,"Height":2}'):
        with pytest.raises(ValueError):
            rc.parse_resize(bad)


def test_negotiation_takes_the_clients_first_known_protocol() -> None:
    assert rc.negotiate([rc.V5, rc.V4]) == rc.V5
    assert rc.negotiate(["v6.channel.k8s.io", rc.V4]) == rc.V4
    assert rc.negotiate([]) == ""
    assert rc.negotiate(["SPDY/3.1"]) is None
    assert rc.offered_protocols("v5.channel.k8s.io, v4.channel.k8s.io") == [rc.V5, rc.V4]


def test_options_come_from_the_query_with_kubernetes_defaults() -> None:
    q = QueryParams("command=sh&command=-c&command=exit+3&stdin=true&tty=1&container=main")
    opts = rc.stream_options(q, "exec")
    assert opts.command == ("sh", "-c", "exit 3")
    assert (opts.stdin, opts.stdout, opts.stderr, opts.tty) == (True, True, True, True)
    assert opts.container == "main"
    # The Python client writes booleans as True/False.
    assert rc.stream_options(QueryParams("command=ls&stderr=False"), "exec").stderr is False
    with pytest.raises(ApiError, match="at least one command"):
        rc.stream_options(QueryParams("stdin=true"), "exec")
    with pytest.raises(ApiError, match="at least 1 of stdin, stdout, stderr"):
        rc.stream_options(QueryParams("stdout=false&stderr=false"), "attach")
    assert rc.stream_options(QueryParams("stdout=true"), "attach").command == ()


def test_port_forward_ports_and_headers() -> None:
    assert rc.forwarded_ports(QueryParams("ports=80,8080&ports=9090")) == [80, 8080, 9090]
    for bad in ("ports=0", "ports=http", "ports=70000", ""):
        with pytest.raises(ApiError, match="ports"):
            rc.forwarded_ports(QueryParams(bad))
    assert rc.port_header(8080) == b"\x90\x1f"  # little-endian, as the clients read it
    assert rc.negotiate_portforward([rc.V5, rc.V4]) == rc.V4  # no v5 for port-forward
    assert rc.negotiate_portforward(["SPDY/3.1+portforward.k8s.io"]) is None
