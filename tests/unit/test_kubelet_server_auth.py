"""The kubelet's own server answers only the apiserver: every endpoint but /healthz needs
the shared secret, so anyone who reaches the port (no token, a guessed one, a node's or a
user's API token) gets a 401 Status from logs, exec, attach, port-forward and metrics."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from kubelet.server import make_app

SECRET = "the-apiserver-secret"


class NoPods:
    def __call__(self, ns: str, pod: str) -> Any:
        return None


CALLERS = [
    {},
    {"Authorization": "Bearer guessed"},
    {"Authorization": "Bearer system-node-gpu2-api-token"},  # another node's API token
    {"Authorization": f"Basic {SECRET}"},
    {"Authorization": f"Bearer {SECRET}x"},
]


@pytest.fixture
def client() -> TestClient:
    return TestClient(make_app(NoPods(), runtime=None, secret=SECRET, readings=lambda n: None))  # type: ignore[arg-type]


@pytest.mark.parametrize("headers", CALLERS)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/containerLogs/default/p/c"),
        ("POST", "/exec/default/p/c?command=id"),
        ("GET", "/metrics/resource?node=n"),
    ],
)
def test_http_endpoints_refuse_all_but_the_apiserver(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    r = client.request(method, path, headers=headers)
    assert r.status_code == 401, r.text
    body = r.json()
    assert body["kind"] == "Status" and "apiserver's secret" in body["message"]


@pytest.mark.parametrize("headers", CALLERS)
@pytest.mark.parametrize(
    "path",
    ["/exec/default/p/c?command=id&stdout=true", "/attach/default/p/c?stdout=true",
     "/portForward/default/p?ports=80"],
)  # fmt: skip
def test_streams_refuse_all_but_the_apiserver(
    client: TestClient, path: str, headers: dict[str, str]
) -> None:
    with pytest.raises(WebSocketDenialResponse) as refused:  # no upgrade: an HTTP answer
        with client.websocket_connect(
            path, headers=headers, subprotocols=["v5.channel.k8s.io", "v4.channel.k8s.io"]
        ) as ws:
            ws.receive_bytes()
    assert refused.value.status_code == 401
    assert "apiserver's secret" in refused.value.json()["message"]


def test_the_secret_opens_them_and_healthz_needs_none(client: TestClient) -> None:
    assert client.get("/healthz").text == "ok"
    r = client.get("/containerLogs/default/p/c", headers={"Authorization": f"Bearer {SECRET}"})
    assert r.status_code == 404  # past the check: no such pod here
    metrics = client.get("/metrics/resource?node=n", headers={"Authorization": f"Bearer {SECRET}"})
    assert metrics.status_code in (200, 404)


def test_without_a_configured_secret_nobody_gets_in() -> None:
    c = TestClient(make_app(NoPods(), runtime=None, secret=None))  # type: ignore[arg-type]
    r = c.get("/containerLogs/default/p/c", headers={"Authorization": "Bearer "})
    assert r.status_code == 401
