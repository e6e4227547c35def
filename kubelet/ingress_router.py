"""The node's Ingress router: the controller of the built-in ``kubelab`` IngressClass
(``kubelab.io/ingress-router``), as k3s ships Traefik.

It listens on the node's HTTP and HTTPS ports (80 and 443 by default; kubelet flags),
routes each request by its Host and path (``api/ingress.py``: Exact, Prefix by path
element, longest first) to a ready endpoint of the backend Service (Endpoints from an
informer, ``ready_backends`` as the Service proxy reads them, round robin), and answers
404 with a short body when no Ingress rule matches, 503 when the Service has no ready
endpoint. HTTPS picks the certificate of the Secret named in the matching ``spec.tls``
entry by SNI (``kubelet/ingress_tls.py``).

The HTTP side is uvicorn (the server the kubelet already runs, h11/httptools parsing)
and httpx (the project's HTTP client) streams each request to the backend and its
answer back: no hand-written HTTP. A WebSocket (Open WebUI's socket.io, a notebook's
kernel) is accepted by uvicorn and relayed message by message to a connection the
``websockets`` client opens to the backend; other Upgrades are answered 501.
``status.loadBalancer`` of the Ingresses is the controller manager's
(``controllers/ingress_status.py``): one writer for all nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import uvicorn

from api.errors import ApiError
from api.ingress import (
    KUBELAB_INGRESS_CONTROLLER,
    Backend,
    Route,
    default_backend,
    match,
    routes_of,
    served_by,
    tls_secret_for,
)
from client import AsyncClient
from client.core import ServerUnreachable
from client.informer import Informer
from kubelet.ingress_tls import SniContexts
from kubelet.ingress_websocket import proxy_websocket
from kubelet.proxy_rules import ready_backends

log = logging.getLogger(__name__)

Obj = dict[str, Any]
# RFC 9110 7.6.1: a proxy never forwards these (nor those named in Connection).
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
SECRET_REFRESH_SECONDS = 30.0  # a renewed certificate is served within this long
BACKEND_TIMEOUT = httpx.Timeout(connect=5.0, read=300.0, write=60.0, pool=5.0)


def _host_of(headers: list[tuple[bytes, bytes]]) -> str:
    for k, v in headers:
        if k == b"host":
            host = v.decode("latin-1").strip().lower()
            if host.startswith("["):
                return host[: host.find("]") + 1]
            return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    return ""


def forwarded_headers(
    headers: list[tuple[bytes, bytes]], client_ip: str, scheme: str, host: str
) -> list[tuple[bytes, bytes]]:
    """The request headers for the backend: hop-by-hop ones dropped, the X-Forwarded-*
    that ingress-nginx sets added (pure)."""
    named = {
        t.strip().lower()
        for k, v in headers
        if k.lower() == b"connection"
        for t in v.decode("latin-1").split(",")
    }
    out: list[tuple[bytes, bytes]] = []
    forwarded_for = ""
    for k, v in headers:
        name = k.decode("latin-1").lower()
        if name in _HOP_BY_HOP or name in named:
            continue
        if name == "x-forwarded-for":
            forwarded_for = v.decode("latin-1")
            continue
        if name in ("x-forwarded-proto", "x-forwarded-host", "x-real-ip"):
            continue
        out.append((k, v))
    chain = f"{forwarded_for}, {client_ip}" if forwarded_for else client_ip
    out += [
        (b"x-forwarded-for", chain.encode()),
        (b"x-forwarded-proto", scheme.encode()),
        (b"x-forwarded-host", host.encode()),
        (b"x-real-ip", client_ip.encode()),
    ]
    return out


def service_backends(svc: Obj | None, endpoints: Obj | None, backend: Backend) -> list[str]:
    """``ip:port`` of the ready endpoints behind an Ingress backend (pure): its port is a
    Service port, by number or name, mapped to that port's Endpoints port."""
    if svc is None:
        return []
    for p in (svc.get("spec") or {}).get("ports") or []:
        if (backend.port_number is not None and p.get("port") == backend.port_number) or (
            backend.port_name and p.get("name") == backend.port_name
        ):
            port_name = str(p.get("name") or "")
            return [
                f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
                for ip, port in ready_backends(endpoints, port_name)
            ]
    return []


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the kubelet decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class IngressRouter:
    """Serves every Ingress of the kubelab controller's classes on ``address``."""

    def __init__(
        self,
        client: AsyncClient,
        address: str,
        http_port: int | None,
        https_port: int | None,
    ) -> None:
        self.client = client
        self.address = address
        self.ports = {"http": http_port, "https": https_port}
        self.ingresses = Informer(client, "ingresses")
        self.classes = Informer(client, "ingressclasses")
        self.services = Informer(client, "services")
        self.endpoints = Informer(client, "endpoints")
        self.tls = SniContexts(self._secret_for_host)
        self.bound: dict[str, int] = {}  # scheme -> the port really listened on
        self._routes: list[Route] | None = None
        self._rr = itertools.count()
        self._secrets_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._servers: list[tuple[_QuietServer, socket.socket]] = []
        self._http = httpx.AsyncClient(
            timeout=BACKEND_TIMEOUT, trust_env=False, follow_redirects=False
        )
        for inf in (self.ingresses, self.classes):
            inf.add_handler(
                on_add=lambda _o: self._invalidate(),
                on_update=lambda _o, _n: self._invalidate(),
                on_delete=lambda _o: self._invalidate(),
            )

    # -- routing decisions ---------------------------------------------------------------

    def _invalidate(self) -> None:
        self._routes = None
        self._secrets_changed.set()

    def served(self) -> list[Obj]:
        """The Ingresses this router serves (its controller's classes, or no class while
        one of them is the default)."""
        classes = self.classes.list()
        return [
            i
            for i in self.ingresses.list()
            if not (i.get("metadata") or {}).get("deletionTimestamp")
            and served_by(i, classes, KUBELAB_INGRESS_CONTROLLER)
        ]

    def routes(self) -> list[Route]:
        if self._routes is None:
            self._routes = [r for ing in self.served() for r in routes_of(ing)]
        return self._routes

    def _secret_for_host(self, host: str) -> str:
        for ing in self.served():
            name = tls_secret_for(ing, host)
            if name:
                return f"{(ing.get('metadata') or {}).get('namespace') or 'default'}/{name}"
        return ""

    def resolve(self, host: str, path: str) -> tuple[Backend | None, str]:
        """The backend for a request and the Ingress that chose it ("" for the default)."""
        route = match(self.routes(), host, path)
        if route is not None:
            return route.backend, route.ingress
        return default_backend(self.served()), ""

    def endpoints_for(self, backend: Backend) -> list[str]:
        key = f"{backend.namespace}/{backend.service}"
        return service_backends(self.services.get(key), self.endpoints.get(key), backend)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the informers, the TLS Secret sync and the listeners (returns at once)."""
        self._tasks = [
            asyncio.create_task(inf.run(), name=f"ingress-{inf_name}")
            for inf_name, inf in (
                ("ingresses", self.ingresses),
                ("classes", self.classes),
                ("services", self.services),
                ("endpoints", self.endpoints),
            )
        ]
        self._tasks.append(asyncio.create_task(self._sync_secrets(), name="ingress-tls"))
        for scheme, port in self.ports.items():
            if port is not None:
                self._listen(scheme, port)

    def _listen(self, scheme: str, port: int) -> None:
        sock = socket.socket(socket.AF_INET6 if ":" in self.address else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.address, port))
        except OSError as e:
            sock.close()
            log.warning(
                "ingress router: cannot listen for %s on %s:%d (%s): Ingresses are not "
                "served on this port of this node; free it, or pick another with "
                "--ingress-%s-port",
                scheme.upper(),
                self.address,
                port,
                e.strerror or e,
                scheme,
            )
            return
        config = uvicorn.Config(
            self._app(scheme),
            log_level="warning",
            lifespan="off",
            timeout_graceful_shutdown=1,
            proxy_headers=False,
        )
        config.load()
        if scheme == "https":
            # The SNI-switching context (uvicorn's own TLS options take one fixed file).
            config.ssl = self.tls.listening
        server = _QuietServer(config)
        self.bound[scheme] = int(sock.getsockname()[1])
        self._servers.append((server, sock))
        self._tasks.append(
            asyncio.create_task(server.serve(sockets=[sock]), name=f"ingress-{scheme}")
        )
        log.info("ingress router: %s on %s:%d", scheme.upper(), self.address, self.bound[scheme])

    async def stop(self) -> None:
        for server, _ in self._servers:
            server.should_exit = True
            server.force_exit = True
        for inf in (self.ingresses, self.classes, self.services, self.endpoints):
            inf.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for _, sock in self._servers:
            sock.close()
        await self._http.aclose()

    async def _sync_secrets(self) -> None:
        """Fetch the TLS Secrets the served Ingresses name, on every Ingress change and
        every SECRET_REFRESH_SECONDS (a renewed certificate)."""
        await self.ingresses.wait_synced()
        while True:
            wanted: set[str] = set()
            for ing in self.served():
                ns = str((ing.get("metadata") or {}).get("namespace") or "default")
                for entry in (ing.get("spec") or {}).get("tls") or []:
                    if entry.get("secretName"):
                        wanted.add(f"{ns}/{entry['secretName']}")
            for key in sorted(wanted):
                ns, name = key.split("/", 1)
                try:
                    self.tls.update(key, await self.client.get("secrets", name, ns))
                except ApiError as e:
                    if e.code == 404:
                        log.warning("ingress router: TLS secret %s not found", key)
                        self.tls.update(key, None)
                    else:
                        log.warning("ingress router: cannot read TLS secret %s: %s", key, e)
                except ServerUnreachable:
                    pass  # kept as it was; the next round tries again
            self.tls.forget_except(wanted)
            self._secrets_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._secrets_changed.wait(), SECRET_REFRESH_SECONDS)

    # -- the HTTP side -------------------------------------------------------------------

    def _app(self, scheme: str) -> Any:
        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                await self._serve(scheme, scope, receive, send)
            elif scope["type"] == "websocket":
                await self._serve_websocket(scheme, scope, receive, send)

        return app

    async def _serve_websocket(
        self, scheme: str, scope: dict[str, Any], receive: Any, send: Any
    ) -> None:
        """Route a WebSocket like a request; refuse it (closed before accepting, which
        uvicorn answers 403) when nothing serves it."""
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        host = _host_of(headers)
        backend, _ = self.resolve(host, scope["path"])
        targets = self.endpoints_for(backend) if backend is not None and backend.service else []
        if not targets:
            await send({"type": "websocket.close", "code": 1008})
            return
        target = targets[next(self._rr) % len(targets)]
        client_ip = (scope.get("client") or ("",))[0]
        query = (scope.get("query_string") or b"").decode("latin-1")
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        url = f"ws://{target}{raw_path}" + (f"?{query}" if query else "")
        # The handshake's own headers are the client library's to write.
        own = {
            b"host",
            b"sec-websocket-key",
            b"sec-websocket-version",
            b"sec-websocket-extensions",
            b"sec-websocket-protocol",
        }
        extra = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in forwarded_headers(headers, client_ip, scheme, host)
            if k.lower() not in own
        ]
        await proxy_websocket(url, extra, scope.get("subprotocols") or [], receive, send)

    async def _serve(self, scheme: str, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        host = _host_of(headers)
        backend, _ = self.resolve(host, scope["path"])
        if backend is None:
            await _short(
                send, 404, "404 page not found: no Ingress rule matches this host and path"
            )
            return
        if not backend.service:
            await _short(
                send,
                501,
                f"the Ingress backend {backend.resource} is a resource, "
                "which kubelab's router cannot serve",
            )
            return
        targets = self.endpoints_for(backend)
        if not targets:
            await _short(
                send,
                503,
                f"service {backend.namespace}/{backend.service} has no "
                "ready endpoint for this port",
            )
            return
        target = targets[next(self._rr) % len(targets)]
        for k, v in headers:
            if k == b"upgrade":
                await _short(
                    send,
                    501,
                    f"upgrade to {v.decode('latin-1')} is not proxied by kubelab's Ingress router",
                )
                return
        client_ip = (scope.get("client") or ("",))[0]
        query = scope.get("query_string") or b""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        url = f"http://{target}{raw_path.decode('latin-1')}" + (
            f"?{query.decode('latin-1')}" if query else ""
        )
        request = self._http.build_request(
            scope["method"],
            url,
            headers=forwarded_headers(headers, client_ip, scheme, host),
            # No body framing in the request, no body: a GET goes on without one (a
            # stream would be sent chunked).
            content=_body(receive) if _has_body(headers) else None,
        )
        try:
            response = await self._http.send(request, stream=True)
        except httpx.HTTPError as e:
            log.info(
                "ingress router: backend %s for %s%s failed: %s", target, host, scope["path"], e
            )
            await _short(send, 502, f"bad gateway: the backend {target} did not answer")
            return
        try:
            out = [
                (k, v)
                for k, v in response.headers.raw
                if k.decode("latin-1").lower() not in _HOP_BY_HOP
            ]
            await send(
                {"type": "http.response.start", "status": response.status_code, "headers": out}
            )
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()


def _has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(k in (b"content-length", b"transfer-encoding") for k, _ in headers)


async def _body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body"):
            return


async def _short(send: Any, status: int, text: str) -> None:
    body = (text + "\n").encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def add_flags(p: Any) -> None:
    """The kubelet flags of the router (``p``: the kubelet's argparse parser)."""
    import argparse

    p.add_argument(
        "--ingress-router",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the Ingress router (the kubelab IngressClass's controller) on --address "
        "(default: on with the docker runtime; with the fake runtime only when a port flag "
        "below is given)",
    )
    p.add_argument(
        "--ingress-http-port",
        type=int,
        default=None,
        metavar="PORT",
        help="the router's HTTP port (default 80; 0 picks a free one)",
    )
    p.add_argument(
        "--ingress-https-port",
        type=int,
        default=None,
        metavar="PORT",
        help="the router's HTTPS port (default 443; 0 picks a free one)",
    )


def router_from_flags(args: Any, client: AsyncClient, runtime: str) -> IngressRouter | None:
    """The router the flags ask for, or None. A fake-runtime node runs no containers, so
    by default it takes no host port (two fake clusters on one box must not collide)."""
    given = args.ingress_http_port is not None or args.ingress_https_port is not None
    wanted = args.ingress_router
    if wanted is None:
        wanted = runtime != "fake" or given
    if not wanted:
        return None
    http = args.ingress_http_port if args.ingress_http_port is not None else 80
    https = args.ingress_https_port if args.ingress_https_port is not None else 443
    return IngressRouter(client, args.address, http, https)
