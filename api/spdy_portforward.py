"""Kubernetes' port-forward protocol over SPDY (``portforward.k8s.io``): which streams
belong together. Pure.

For each TCP connection it accepts, kubectl opens two SPDY streams with the same
``requestid`` and ``port`` headers: first the error stream (``streamtype: error``; the
server writes a failure there, kubectl only reads it), then the data stream (``streamtype:
data``; the connection's bytes, both ways). The server forwards once both have arrived.
``TUNNEL_PROTOCOL`` is the WebSocket subprotocol kubectl 1.35 asks for first: the same
SPDY frames carried in WebSocket binary messages.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.spdy import Headers

PROTOCOL = "portforward.k8s.io"
TUNNEL_PROTOCOL = f"SPDY/3.1+{PROTOCOL}"

STREAM_TYPE, PORT, REQUEST_ID = "streamtype", "port", "requestid"
DATA, ERROR = "data", "error"


class PairError(ValueError):
    """A stream whose headers cannot be served; the message says which header."""


@dataclass
class StreamPair:
    request_id: str
    port: int
    data_id: int | None = None
    error_id: int | None = None

    @property
    def complete(self) -> bool:
        return self.data_id is not None and self.error_id is not None


def _port(text: str | None) -> int:
    try:
        port = int(text or "")
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise PairError(f'header "port": {text!r} is not a port in 1-65535')
    return port


class StreamPairs:
    """The pairs being assembled, by request id."""

    def __init__(self) -> None:
        self._pending: dict[str, StreamPair] = {}

    def add(self, stream_id: int, headers: Headers) -> StreamPair | None:
        """Place one new stream; the pair once it is complete (then forgotten here),
        else None. PairError for a stream that names no valid type, port or request."""
        kind = headers.get(STREAM_TYPE)
        if kind not in (DATA, ERROR):
            raise PairError(f'header "streamtype": {kind!r} must be "data" or "error"')
        port = _port(headers.get(PORT))
        request = headers.get(REQUEST_ID)
        if not request:
            raise PairError('header "requestid" is required (kubectl 1.11 and later send it)')
        pair = self._pending.setdefault(request, StreamPair(request, port))
        if pair.port != port:
            raise PairError(f"request {request} names port {pair.port} and then port {port}")
        if (pair.data_id if kind == DATA else pair.error_id) is not None:
            raise PairError(f"request {request} already has a {kind} stream")
        if kind == DATA:
            pair.data_id = stream_id
        else:
            pair.error_id = stream_id
        if pair.complete:
            del self._pending[request]
            return pair
        return None
