"""uvicorn's WebSocket protocol (websockets, sans-I/O), accepting Kubernetes' subprotocol
names as Go's servers do.

kubectl 1.35 port-forwards over ``Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io``,
whose ``/`` is no RFC 6455 token character: the websockets library refuses the whole
handshake with a 400 while parsing the header, before the app can choose. uvicorn
already splits the header itself for the ASGI scope and answers with the subprotocol the
app accepts, so the library's own parse (``process_subprotocol``) is skipped here.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.server import ServerProtocol
from websockets.typing import Subprotocol


class _AppChoosesSubprotocol(ServerProtocol):
    def process_subprotocol(self, headers: Headers) -> Subprotocol | None:
        return None  # the ASGI app's accept names it (uvicorn adds the header)


class KubernetesWebSocketProtocol(WebSocketsSansIOProtocol):
    """The protocol ``uvicorn.Config(ws=...)`` takes for the apiserver and kubelet."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Same object, one method different: uvicorn built it with its own settings.
        self.conn.__class__ = _AppChoosesSubprotocol
