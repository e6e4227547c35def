"""The remote command stream protocols: how exec and attach carry a process's standard
streams over one WebSocket, as Kubernetes frames them (apimachinery's wsstream and
remotecommand packages; client-go's websocket executor).

Every WebSocket message is one frame: a channel byte, then the payload.

    0 stdin   (client to server)     3 error  (server to client: the final Status)
    1 stdout  (server to client)     4 resize (client to server: {"Width": W, "Height": H})
    2 stderr  (server to client)   255 close  (v5 only: [255, N] half-closes channel N)

``v4`` and ``v5`` send a JSON ``Status`` on the error channel when the process ends
(Success, or Failure with reason NonZeroExitCode and an ExitCode cause); the older
protocols send only the text of a failure. The ``base64`` variants send text messages:
the channel as an ASCII digit, then the payload in base64. Pure: no I/O here, so the
kubelet (server), the apiserver (which checks options before relaying) and the
``kl`` client share one codec.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from api.errors import ApiError

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V2 = "v2.channel.k8s.io"
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"

# What a server accepts, newest first (a client lists its own preference; the server takes
# the first of the client's list that it knows, as wsstream's handshake does).
PROTOCOLS: tuple[str, ...] = (V5, V4, V4_BASE64, V3, V2, V1, V1_BASE64)

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255

NON_ZERO_EXIT_CODE = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"

# What kubectl and client libraries print when the server only speaks SPDY (or here, the
# other way round): said once, used by the apiserver's answer to a SPDY upgrade.
WEBSOCKET_ONLY = (
    "kubelab streams exec and attach over WebSocket only (subprotocols "
    + ", ".join(PROTOCOLS[:5])
    + "), not SPDY/3.1; kubectl 1.30 and later use WebSocket by default (do not set "
    "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false), and so do the official clients' stream() helpers"
)


@dataclass(frozen=True)
class Frame:
    """One message: ``data`` on ``channel``; ``close`` marks a v5 half-close of it."""

    channel: int
    data: bytes = b""
    close: bool = False


def negotiate(offered: list[str]) -> str | None:
    """The subprotocol to answer with: the first offered one this codec speaks; "" when
    the client offered none (channel.k8s.io then, as Kubernetes does); None when it
    offered only protocols unknown here."""
    if not offered:
        return ""
    return next((p for p in offered if p in PROTOCOLS), None)


def offered_protocols(header: str) -> list[str]:
    """The subprotocols of a ``Sec-WebSocket-Protocol`` header, in the client's order."""
    return [p.strip() for p in header.split(",") if p.strip()]


class ChannelCodec:
    """Encodes and decodes the frames of one negotiated subprotocol."""

    def __init__(self, protocol: str) -> None:
        if protocol and protocol not in PROTOCOLS:
            raise ValueError(f"unknown stream protocol {protocol!r}")
        self.protocol = protocol or V1
        self.base64 = "base64" in self.protocol
        self.status_json = self.protocol in (V4, V4_BASE64, V5)
        self.close_signal = self.protocol == V5

    def encode(self, channel: int, data: bytes = b"") -> bytes | str:
        """The message carrying ``data`` on ``channel`` (text for the base64 protocols)."""
        if self.base64:
            return chr(ord("0") + channel) + base64.b64encode(data).decode("ascii")
        return bytes((channel,)) + data

    def encode_close(self, channel: int) -> bytes:
        """v5's half-close of ``channel`` (the writer's EOF, e.g. stdin's)."""
        if not self.close_signal:
            raise ValueError(f"{self.protocol} has no close signal")
        return bytes((CLOSE, channel))

    def decode(self, message: bytes | str) -> Frame | None:
        """The frame in ``message``; None for an empty message (which carries nothing).
        Raises ValueError for a malformed one (bad base64, a close without its channel)."""
        if not message:
            return None
        if isinstance(message, str):
            if not self.base64:
                # The Python client writes stdin as a text message ("\x00" + data); wsstream
                # reads every message as bytes, so a text one is the same frame.
                return self.decode(message.encode())
            channel = ord(message[0]) - ord("0")
            try:
                data = base64.b64decode(message[1:], validate=True)
            except (binascii.Error, ValueError) as e:
                raise ValueError(f"channel {channel}: invalid base64 payload") from e
            return Frame(channel, data)
        if self.close_signal and message[0] == CLOSE:
            if len(message) != 2:
                raise ValueError("a close signal (255) is followed by exactly one channel byte")
            return Frame(message[1], close=True)
        if self.base64:
            # Some clients send base64 protocols' frames as binary messages: same layout.
            return self.decode(message.decode("ascii", errors="replace"))
        return Frame(message[0], bytes(message[1:]))

    def exit_payload(self, exit_code: int | None, command: list[str] | None = None) -> bytes:
        """What the error channel says at the end: a Status (v4, v5), or for the older
        protocols the text of a failure and nothing on success."""
        if self.status_json:
            return orjson.dumps(exit_status(exit_code, command))
        if not exit_code:
            return b""
        return f"command terminated with non-zero exit code: exit code {exit_code}".encode()

    def error_payload(self, message: str) -> bytes:
        """The error channel's payload for a failure that is not an exit code."""
        if self.status_json:
            return orjson.dumps(failure_status(message))
        return message.encode()


def exit_status(exit_code: int | None, command: list[str] | None = None) -> dict[str, Any]:
    """The Status the error channel carries when the process ended with ``exit_code``
    (None: nothing to report, as for attach): Success for 0."""
    if not exit_code:
        return {"metadata": {}, "status": "Success"}
    what = f"error executing command [{' '.join(command)}], " if command else ""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {what}exit code {exit_code}",
        "reason": NON_ZERO_EXIT_CODE,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(exit_code)}]},
    }


def failure_status(message: str) -> dict[str, Any]:
    """A Failure Status for an error that is not the process's exit (it could not start)."""
    return {"metadata": {}, "status": "Failure", "message": message, "reason": "InternalError"}


class StreamError(Exception):
    """The server reported a failure on the error channel that is not an exit code."""


def exit_code_of(payload: bytes, status_json: bool = True) -> int:
    """The exit code the error channel reports (0 for an empty channel or Success);
    raises StreamError with the server's message for any other failure."""
    if not payload.strip():
        return 0
    if not status_json:
        raise StreamError(payload.decode(errors="replace"))
    try:
        status = orjson.loads(payload)
    except orjson.JSONDecodeError as e:
        raise StreamError(f"error stream protocol error: {payload[:200]!r}") from e
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == NON_ZERO_EXIT_CODE:
        for cause in (status.get("details") or {}).get("causes") or []:
            if cause.get("reason") == EXIT_CODE_CAUSE:
                try:
                    return int(cause.get("message"))
                except (TypeError, ValueError):
                    break
        raise StreamError("error stream protocol error: no ExitCode cause given")
    raise StreamError(str(status.get("message") or "error stream protocol error: unknown error"))


def parse_resize(data: bytes) -> tuple[int, int]:
    """(width, height) from a resize frame's ``{"Width": W, "Height": H}``."""
    try:
        size = orjson.loads(data)
        width, height = int(size["Width"]), int(size["Height"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise ValueError(
            f'a resize frame is {{"Width": W, "Height": H}}, got {data[:100]!r}'
        ) from e
    if not (0 <= width <= 0xFFFF and 0 <= height <= 0xFFFF):
        raise ValueError(f"terminal size {width}x{height} is out of range")
    return width, height


def resize_payload(width: int, height: int) -> bytes:
    return orjson.dumps({"Width": width, "Height": height})


# -- the options of an exec or attach request -----------------------------------------------

_TRUE = ("1", "true", "True", "TRUE", "yes")


@dataclass(frozen=True)
class StreamOptions:
    """What an exec or attach request asks for (its query parameters, as
    core/v1 PodExecOptions and PodAttachOptions name them)."""

    container: str | None
    command: tuple[str, ...]
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool

    def query(self) -> list[tuple[str, str]]:
        """The query parameters that ask for these options again (to the kubelet)."""
        q = [("command", c) for c in self.command]
        if self.container:
            q.append(("container", self.container))
        for name in ("stdin", "stdout", "stderr", "tty"):
            q.append((name, "true" if getattr(self, name) else "false"))
        return q


def stream_options(query: Any, subresource: str) -> StreamOptions:
    """The options of ``pods/exec`` or ``pods/attach`` from a query (a Starlette
    QueryParams or anything with ``get`` and ``getlist``); a 400 Status names what is
    wrong. ``stdout`` defaults to true for exec, as PodExecOptions' does."""

    def flag(name: str, default: bool) -> bool:
        raw = query.get(name)
        return default if raw in (None, "") else raw in _TRUE

    command = tuple(query.getlist("command"))
    if subresource == "exec" and not command:
        raise ApiError(
            400,
            "command: Required value: you must specify at least one command for the "
            "container (kubectl exec POD -- COMMAND)",
            "BadRequest",
        )
    opts = StreamOptions(
        container=query.get("container") or None,
        command=command,
        stdin=flag("stdin", False),
        stdout=flag("stdout", subresource == "exec"),
        stderr=flag("stderr", subresource == "exec"),
        tty=flag("tty", False),
    )
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise ApiError(
            400,
            "you must specify at least 1 of stdin, stdout, stderr (query parameters "
            "stdin=true, stdout=true, stderr=true)",
            "BadRequest",
        )
    return opts


# -- port-forward over the same channels ------------------------------------------------------

# Port-forward speaks the channel framing without v5 (as Kubernetes' kubelet lists them).
PORTFORWARD_PROTOCOLS: tuple[str, ...] = (V4, V4_BASE64, V1, V1_BASE64)

PORTFORWARD_SPDY = (
    "pods/portforward serves no such upgrade; it speaks SPDY/3.1 (Upgrade: SPDY/3.1 with "
    "X-Stream-Protocol-Version: portforward.k8s.io, or tunnelled in a WebSocket with the "
    "subprotocol SPDY/3.1+portforward.k8s.io, as kubectl does) and the WebSocket channels "
    "v4.channel.k8s.io (a data and an error channel per port) of the official clients' "
    "portforward() helpers"
)


def negotiate_portforward(offered: list[str]) -> str | None:
    """As ``negotiate``, among the port-forward protocols."""
    if not offered:
        return ""
    return next((p for p in offered if p in PORTFORWARD_PROTOCOLS), None)


def port_header(port: int) -> bytes:
    """The first message on each of a port's two channels: the port, 2 bytes little-endian."""
    return port.to_bytes(2, "little")


def forwarded_ports(query: Any) -> list[int]:
    """The ``ports`` of a port-forward request (repeated, or comma-separated); a 400
    Status names a bad one."""
    raw = query.getlist("ports")
    if not raw:
        raise ApiError(
            400, 'query parameter "ports" is required (e.g. ?ports=8080,9090)', "BadRequest"
        )
    ports: list[int] = []
    for item in raw:
        for text in item.split(","):
            try:
                port = int(text)
            except ValueError:
                port = 0
            if not 1 <= port <= 65535:
                raise ApiError(
                    400, f"ports: Invalid value: {text!r}: must be a port in 1-65535", "BadRequest"
                )
            ports.append(port)
    return ports
