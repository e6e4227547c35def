"""The apiserver in this process: its real ASGI app over ``httpx.ASGITransport``.

Fast tests of the REST verbs, the store and watch fan-out, where the wire does not matter
(no process start, no TLS, no port): the app is the one ``kubelab apiserver`` serves,
wrapped in the same ``DirectDispatch`` uvicorn gets, with its store on a SQLite file in a
temporary home, an admin token, and the app's own lifespan (store writer thread, the
always-present namespaces).

``httpx.ASGITransport`` hands back a response only once the app has finished it, so a
watch answers when its ``timeoutSeconds`` runs out, with every event of that window; a test
that must read a watch line by line uses ``apiserver.watch.stream`` directly. Tests that
need the wire (TLS, keep-alive, a process that crashes) start a real server
(tests/harness.py).

Use with the anyio pytest plugin::

    pytestmark = pytest.mark.anyio

    async def test_something(inprocess_api: InProcessApi) -> None:
        r = await inprocess_api.client.get("/api/v1/namespaces/default/pods")
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson

from apiserver.app import ApiServer, ServerConfig, create_app
from apiserver.asgi import DirectDispatch
from apiserver.auth import ensure_admin_token, ensure_secret_file


@dataclass
class InProcessApi:
    """A started in-process apiserver and an admin client for it."""

    server: ApiServer
    client: httpx.AsyncClient
    home: Path
    token: str

    async def create(self, path: str, obj: dict[str, Any], **params: str) -> dict[str, Any]:
        """POST ``obj`` to the collection ``path``; the created object (201 expected)."""
        r = await self.client.post(path, json=obj, params=params)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    async def status_of(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        """The status code and decoded JSON body of one request."""
        r = await self.client.request(method, path, **kwargs)
        return r.status_code, orjson.loads(r.content) if r.content else None


def server_config(home: Path, db_url: str = "", keep_revisions: int = 1000) -> ServerConfig:
    """The configuration ``kubelab apiserver --home HOME`` would use, minus TLS."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = ensure_secret_file(home / "kubelet-secret")
    return ServerConfig(
        home=home,
        db_url=db_url or f"sqlite:///{home / 'state.db'}",
        tokens_file=home / "tokens.csv",
        kubelet_secret=secret,
        server_address="127.0.0.1:6443",
        keep_revisions=keep_revisions,
        rbac_file=home / "rbac.yaml",
    )


@asynccontextmanager
async def inprocess_apiserver(
    home: Path, db_url: str = "", keep_revisions: int = 1000, **settings: Any
) -> AsyncIterator[InProcessApi]:
    """Start the apiserver's app in this event loop; stop its store on the way out.
    ``settings`` override ServerConfig fields (``service_cidr="10.43.0.0/28"``)."""
    config = dataclasses.replace(server_config(home, db_url, keep_revisions), **settings)
    token = ensure_admin_token(home)
    app = create_app(config)
    # ASGITransport sends no lifespan events: run the app's own lifespan around the client.
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=DirectDispatch(app))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://kubelab.test",
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            yield InProcessApi(app.state.server, client, home, token)
