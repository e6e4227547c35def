"""The Bind step: POST ``pods/NAME/binding``.

Binding is the one request the scheduler sends per pod, so at a thousand pods a
second its cost per request decides the scheduler's throughput. Profiling showed
httpx/httpcore spending ~85 % of the scheduler's CPU there (connection-pool
bookkeeping per request), so :class:`HttpBinder` goes through the client's lean
HTTP/1.1 pool (client/http1.py) over a few keep-alive TLS connections.
:class:`ClientBinder` goes through the ordinary AsyncClient (used by tests that build
a Scheduler around a client).
"""

from __future__ import annotations

import ssl
from typing import Any, Protocol

import httpx
import orjson

from api.errors import ApiError
from client import AsyncClient
from client.core import describe_transport_error, error_from
from client.http1 import Http1Pool

Obj = dict[str, Any]


class Binder(Protocol):
    async def bind(self, namespace: str, name: str, body: Obj) -> None:
        """Write the Binding; raise ApiError on a non-2xx answer, ConnectionError when
        the server cannot be reached."""
        ...

    async def close(self) -> None: ...


class ClientBinder:
    """Bindings through :class:`client.AsyncClient`."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client

    async def bind(self, namespace: str, name: str, body: Obj) -> None:
        await self.client.create("pods", body, namespace, subresource="binding", name=name)

    async def close(self) -> None:
        return None


class HttpBinder:
    """Bindings over at most ``connections`` keep-alive HTTP/1.1 connections, through the
    client's lean pool (client/http1.py), which also keeps idle connections that the
    server has closed from failing a binding."""

    def __init__(
        self,
        server: str,
        token: str | None = None,
        ssl_context: ssl.SSLContext | bool | None = None,
        connections: int = 16,
        timeout: float = 30.0,
    ) -> None:
        tls: ssl.SSLContext | bool = True
        if isinstance(ssl_context, ssl.SSLContext):
            tls = ssl_context
        elif ssl_context is False:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            tls = ctx
        headers = {
            "User-Agent": "kubelab-scheduler",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._pool = Http1Pool(
            server,
            tls,
            headers,
            httpx.Timeout(timeout),
            max_idle=connections,
            max_in_flight=connections,
        )
        self.server = server

    @classmethod
    def from_kubeconfig(
        cls, path: str | None, context: str | None = None, **kwargs: Any
    ) -> HttpBinder:
        """A binder for the cluster of a kubeconfig (same lookup as the client)."""
        from client import load_kubeconfig
        from client.core import ssl_context

        cfg = load_kubeconfig(path, context)
        return cls(cfg.server, cfg.token, ssl_context(cfg.ca_data, None, cfg.verify), **kwargs)

    async def bind(self, namespace: str, name: str, body: Obj) -> None:
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/binding"
        try:
            reply = await self._pool.request("POST", path, content=orjson.dumps(body))
        except httpx.TransportError as exc:
            raise ConnectionError(
                f"binding {namespace}/{name}: {self.server}: {describe_transport_error(exc)}"
            ) from exc
        if reply.status_code >= 300:
            raise error_from(reply.status_code, reply.content)

    async def close(self) -> None:
        await self._pool.close()


__all__ = ["ApiError", "Binder", "ClientBinder", "HttpBinder"]
