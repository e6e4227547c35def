"""Which upgrades the apiserver's HTTP protocol hands to apiserver/spdy_upgrade.py, and
the WebSocket scope it runs the app with (the tunnel's subprotocol, the Status extension)."""

from __future__ import annotations

from apiserver.spdy_upgrade import SWITCHING, wants_spdy_portforward, websocket_scope


def test_only_spdy_port_forwards_are_taken() -> None:
    path = b"/api/v1/namespaces/default/pods/web/portforward"
    assert wants_spdy_portforward(b"spdy/3.1", path)
    assert wants_spdy_portforward(b"spdy/3.1", path + b"?ports=80")
    assert not wants_spdy_portforward(b"websocket", path)  # uvicorn's own upgrade
    assert not wants_spdy_portforward(b"spdy/3.1", path.replace(b"portforward", b"exec"))
    assert not wants_spdy_portforward(None, path)


def test_the_scope_offers_the_tunnel_and_keeps_the_request() -> None:
    http = {"type": "http", "headers": [(b"authorization", b"Bearer t")], "state": {}}
    scope = websocket_scope(http, "/api/v1/namespaces/d/pods/w/portforward", b"x=1")
    assert scope["type"] == "websocket" and scope["subprotocols"] == ["SPDY/3.1+portforward.k8s.io"]
    assert scope["headers"] == [(b"authorization", b"Bearer t")]
    assert scope["query_string"] == b"x=1" and "websocket.http.response" in scope["extensions"]
    assert SWITCHING.startswith(b"HTTP/1.1 101 ") and b"Upgrade: SPDY/3.1\r\n" in SWITCHING
    assert b"X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n" in SWITCHING
