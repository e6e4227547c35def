"""Flow control in the apiserver (in process) and the clients' answer to it: a user's flood
past its share is answered 429 with Retry-After and kubectl's TooManyRequests Status, the
admin meanwhile is served, and both clients send a 429 again after the wait it names."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator

import pytest

from apiserver.auth import add_token
from client import AsyncClient, Client
from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio


async def test_a_flood_from_one_user_is_turned_away_the_admin_is_not(
    inprocess_api: InProcessApi,
) -> None:
    token = add_token(inprocess_api.home / "tokens.csv", "alice", ["system:authenticated"])
    flow = inprocess_api.server.flow
    flow.per_user, flow.queue_wait = 2, 0.0
    alice = {"Authorization": f"Bearer {token}"}
    await inprocess_api.create(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings",
        {
            "metadata": {"name": "alice-edit"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            "subjects": [
                {"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}
            ],
        },
    )
    cms = "/api/v1/namespaces/default/configmaps"

    def cm(who: str, i: int) -> dict[str, object]:
        return {"metadata": {"name": f"{who}-{i}"}, "data": {"k": "v"}}

    # 20 creates at once: each waits for its commit, holding one of alice's 2 slots.
    replies = await asyncio.gather(
        *(inprocess_api.client.post(cms, json=cm("alice", i), headers=alice) for i in range(20))
    )
    codes = [r.status_code for r in replies]
    assert 429 in codes, codes
    turned = next(r for r in replies if r.status_code == 429)
    assert turned.headers["retry-after"] == "1"
    status = turned.json()
    assert (status["reason"], status["details"]["retryAfterSeconds"]) == ("TooManyRequests", 1)
    assert "too many requests from user 'alice'" in status["message"]
    assert 201 in codes  # alice's share was served
    admin = await asyncio.gather(
        *(inprocess_api.client.post(cms, json=cm("admin", i)) for i in range(20))
    )
    assert {r.status_code for r in admin} == {201}


class _Busy(http.server.BaseHTTPRequestHandler):
    """Answers 429 with Retry-After twice, then the object."""

    calls = 0

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).calls += 1
        if type(self).calls <= 2:
            body = b'{"kind":"Status","apiVersion":"v1","status":"Failure","code":429}'
            self.send_response(429)
            self.send_header("Retry-After", "0")
        else:
            body = b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"}}'
            self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def busy_server() -> Iterator[str]:
    _Busy.calls = 0
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()


def test_the_sync_client_retries_after_retry_after(busy_server: str) -> None:
    c = Client(busy_server)
    try:
        assert c.get("configmaps", "x", "default")["metadata"]["name"] == "x"
    finally:
        c.close()
    assert _Busy.calls == 3


async def test_the_async_client_retries_after_retry_after(busy_server: str) -> None:
    c = AsyncClient(busy_server)
    try:
        assert (await c.get("configmaps", "x", "default"))["metadata"]["name"] == "x"
    finally:
        await c.close()
    assert _Busy.calls == 3
