"""``pods/exec`` and ``pods/attach`` over WebSocket: authorise, find the pod's kubelet,
and relay the remote command channels (api/remotecommand.py) both ways, untouched.

kubectl (1.30 and later) and the official clients open a WebSocket with the subprotocols
``v5.channel.k8s.io``, ``v4.channel.k8s.io``, ...; the apiserver checks the caller may
``create`` the subresource (as Kubernetes RBAC has it), validates the options, then opens
a WebSocket to the kubelet of the pod's node offering the same subprotocols, with the
secret it shares with its kubelets (the same credential as the log proxy's), and answers
the client with the one the kubelet chose. A refused handshake answers a Status, so every
client prints why. The relay is message for message: the kubelet frames, the apiserver
only carries, so a new protocol version needs no change here.

The websockets package is the client (maintained, asyncio-native, the library uvicorn
serves our own WebSockets with); Starlette's WebSocket is the server side.

``pods/portforward`` also accepts kubectl's ``SPDY/3.1+portforward.k8s.io`` WebSocket: the
apiserver is then the SPDY server itself (apiserver/portforward_tunnel.py), one kubelet
WebSocket per forwarded connection.

A plain SPDY/3.1 upgrade of pods/portforward reaches the same route as that WebSocket
(apiserver/spdy_upgrade.py). Any other upgrade (SPDY for exec and attach, kubectl's
fallback) gets the same checks, then a 400 Status saying which protocols kubelab speaks,
never an empty error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from typing import Any
from urllib.parse import urlencode

import orjson
import websockets
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from api import remotecommand as rc
from api.errors import ApiError, bad_request
from api.spdy_portforward import TUNNEL_PROTOCOL
from apiserver.auth import TokenAuthenticator
from apiserver.authz import Authorizer
from apiserver.paths import Target, parse_resource_path
from apiserver.pods import PodSubresources
from apiserver.portforward_tunnel import PortForwardSession

log = logging.getLogger(__name__)

_TUNNEL = "spdy-tunnel:"  # marks _admit's answer for kubectl's port-forward tunnel

STREAMED = ("exec", "attach", "portforward")
# Large enough for any frame a client sends (kubectl cp writes 32 KiB at a time).
_MAX_MESSAGE = 16 * 1024 * 1024


def kubelet_stream_url(pods: PodSubresources, t: Target, query: Any) -> str:
    """The kubelet WebSocket URL for an exec or attach request; a Status (400, 404, 503)
    for a request that cannot be served: no such pod or container, a finished pod, bad
    options, a node without a kubelet address."""
    if t.subresource == "portforward":
        return _portforward_url(pods, t, query)
    opts = rc.stream_options(query, t.subresource)
    pod = pods._pod(t)
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed"):
        raise bad_request(
            f"cannot {t.subresource} into a container in a completed pod; current phase is {phase}"
        )
    if not (pod.get("spec") or {}).get("nodeName"):
        raise bad_request(
            f'pod "{t.name}" is not scheduled to a node yet: nothing runs to {t.subresource}'
        )
    container = pods._container(pod, opts.container)
    base = pods._kubelet_url(pod)
    ws_base = (
        "wss" + base[len("https") :] if base.startswith("https") else "ws" + base[len("http") :]
    )
    ns = pod["metadata"]["namespace"]
    query = urlencode([(k, v) for k, v in opts.query() if k != "container"])
    return f"{ws_base}/{t.subresource}/{ns}/{t.name}/{container}?{query}"


def _portforward_url(pods: PodSubresources, t: Target, query: Any) -> str:
    ports = rc.forwarded_ports(query)
    query_text = urlencode([("ports", ",".join(map(str, ports)))])
    return f"{portforward_base(pods, t)}?{query_text}"


def portforward_base(pods: PodSubresources, t: Target) -> str:
    """The kubelet's port-forward WebSocket URL for the pod, without its ports; a 400
    Status when the pod is not running."""
    pod = pods._pod(t)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise bad_request(
            f"unable to forward port because pod is not running. Current status={phase}"
        )
    base = pods._kubelet_url(pod)
    ws_base = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
    ns = pod["metadata"]["namespace"]
    return f"{ws_base}/portForward/{ns}/{t.name}"


def wants_other_upgrade(request: Request) -> bool:
    """A plain HTTP request asking to upgrade to something else than WebSocket (SPDY)."""
    connection = request.headers.get("connection", "").lower()
    return "upgrade" in connection and bool(request.headers.get("upgrade"))


def refuse_spdy(pods: PodSubresources, request: Request, t: Target) -> ApiError:
    """The answer to a SPDY upgrade of exec or attach: the request's own error if it has
    one (kubectl falls back to SPDY on any refused WebSocket handshake, so this is what it
    prints), else a 400 naming the WebSocket protocols."""
    if t.subresource == "portforward":
        pods._pod(t)  # a missing pod is said first (the ports travel in SPDY's own headers)
        return ApiError(400, rc.PORTFORWARD_SPDY, "BadRequest")
    kubelet_stream_url(pods, t, request.query_params)
    return ApiError(400, rc.WEBSOCKET_ONLY, "BadRequest")


class StreamProxy:
    """The WebSocket side of the apiserver (one route for every WebSocket path)."""

    def __init__(
        self,
        authn: TokenAuthenticator,
        authz: Authorizer,
        pods: PodSubresources,
        kubelet_secret: str,
    ) -> None:
        self.authn = authn
        self.authz = authz
        self.pods = pods
        self.kubelet_secret = kubelet_secret
        ctx = ssl.create_default_context()
        # As the log proxy: kubelets serve self-signed certificates; the shared secret
        # authenticates us to them, and their address comes from the Node we store.
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self._tls = ctx

    async def handle(self, ws: WebSocket) -> None:
        try:
            url = await self._admit(ws)
        except ApiError as e:
            await _refuse(ws, e)
            return
        offered = list(ws.scope.get("subprotocols") or [])
        if url.startswith(_TUNNEL):
            await self._tunnel(ws, url[len(_TUNNEL) :])
            return
        try:
            upstream = await self._connect(url, offered)
        except ApiError as e:
            await _refuse(ws, e)
            return
        try:
            await ws.accept(subprotocol=upstream.subprotocol or None)
            await relay(ws, upstream)
        finally:
            await upstream.close()

    async def _connect(self, url: str, subprotocols: list[str]) -> ClientConnection:
        """A WebSocket to a kubelet; a Status (the kubelet's, or 503) when it refuses."""
        try:
            return await websockets.connect(
                url,
                subprotocols=subprotocols or None,  # type: ignore[arg-type]
                additional_headers={"Authorization": f"Bearer {self.kubelet_secret}"},
                ssl=self._tls if url.startswith("wss:") else None,
                max_size=_MAX_MESSAGE,
                open_timeout=10,
                compression=None,
            )
        except InvalidStatus as e:
            raise _status_error(e.response.status_code, bytes(e.response.body or b"")) from e
        except (OSError, InvalidHandshake, TimeoutError) as e:
            raise ApiError(
                503,
                f"cannot reach the kubelet at {url.split('/')[2]}: {e}; "
                "check that its kubelet is running",
                "ServiceUnavailable",
            ) from e

    async def _tunnel(self, ws: WebSocket, base: str) -> None:
        """kubectl's SPDY-in-WebSocket port-forward (apiserver/portforward_tunnel.py): one
        kubelet WebSocket per forwarded connection."""

        async def open_port(port: int) -> ClientConnection:
            return await self._connect(f"{base}?ports={port}", [rc.V4])

        pod = ws.scope["path"].rstrip("/").split("/")[-2]
        await ws.accept(subprotocol=TUNNEL_PROTOCOL)
        try:
            await PortForwardSession(ws, open_port, pod).run()
        finally:
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
                await ws.close(1000)

    async def _admit(self, ws: WebSocket) -> str:
        """Authenticate, authorise and validate; the kubelet URL to relay to."""
        path = ws.scope["path"]
        user = self.authn.authenticate(ws.headers.get("authorization"))
        if "impersonate-user" in ws.headers or "impersonate-group" in ws.headers:
            raise ApiError(
                403, "impersonation (kubectl --as) is not supported by kubelab", "Forbidden"
            )
        t = parse_resource_path(path)
        if t is None or t.info.plural != "pods" or t.subresource not in STREAMED:
            raise ApiError(
                404,
                f"the server serves no WebSocket at {path}: only pods/NAME/exec, "
                "pods/NAME/attach and pods/NAME/portforward are streamed",
                "NotFound",
            )
        # The RBAC verb of a streamed subresource is create, whatever the method.
        as_http = Request({**ws.scope, "type": "http", "method": "GET"})
        await self.authz.authorize(user, as_http, t)
        offered = list(ws.scope.get("subprotocols") or [])
        if t.subresource == "portforward" and TUNNEL_PROTOCOL in offered:
            return _TUNNEL + portforward_base(self.pods, t)  # kubectl's SPDY tunnel
        if t.subresource == "portforward" and rc.negotiate_portforward(offered) is None:
            raise ApiError(
                400,
                f"requested protocol(s) are not supported: {offered}; pods/portforward "
                f"speaks {TUNNEL_PROTOCOL} and {', '.join(rc.PORTFORWARD_PROTOCOLS)}",
                "BadRequest",
            )
        return kubelet_stream_url(self.pods, t, ws.query_params)


async def relay(ws: WebSocket, upstream: ClientConnection) -> None:
    """Carry messages both ways until one side closes; pass the kubelet's close on."""

    async def client_to_kubelet() -> None:
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
            data = msg.get("bytes")
            await upstream.send(data if data is not None else msg.get("text") or "")

    async def kubelet_to_client() -> int:
        try:
            async for message in upstream:
                if isinstance(message, bytes):
                    await ws.send_bytes(message)
                else:
                    await ws.send_text(message)
        except ConnectionClosed:
            return 1011  # the kubelet went away mid-stream
        return upstream.close_code or 1000

    inbound = asyncio.create_task(client_to_kubelet(), name="relay-in")
    outbound = asyncio.create_task(kubelet_to_client(), name="relay-out")
    try:
        done, _ = await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
        if outbound in done:
            code = outbound.result()
            with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
                await ws.close(code if code in (1000, 1011) else 1000)
    except (WebSocketDisconnect, ConnectionClosed, RuntimeError, OSError) as e:
        log.debug("stream relay ended: %s", e)
    finally:
        for task in (inbound, outbound):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _status_error(code: int, body: bytes | None) -> ApiError:
    try:
        return ApiError.from_status(orjson.loads(body or b""), code)
    except orjson.JSONDecodeError:
        text = (body or b"").decode(errors="replace")[:500]
        return ApiError(code, text or f"the kubelet refused the stream ({code})")


async def _refuse(ws: WebSocket, err: ApiError) -> None:
    """Answer the handshake with the Status instead of upgrading."""
    await ws.send_denial_response(JSONResponse(err.to_status(), status_code=err.code))
