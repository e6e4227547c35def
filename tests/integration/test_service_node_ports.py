"""NodePort allocation in the apiserver (in process): a port one Service holds is refused
to another with kubectl's 422, at create and at update, also when the creates race; a
refused or never-committed write holds no port; an update keeps the ports it had."""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import pytest

from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio

SVCS = "/api/v1/namespaces/default/services"


def node_port_svc(name: str, node_port: int | None = None, port: int = 80) -> dict[str, Any]:
    p: dict[str, Any] = {"port": port}
    if node_port is not None:
        p["nodePort"] = node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": "NodePort", "ports": [p]},
    }


def node_port_of(svc: dict[str, Any]) -> int:
    return int(svc["spec"]["ports"][0]["nodePort"])


async def test_a_taken_node_port_is_refused_with_kubectls_422(inprocess_api: InProcessApi) -> None:
    await inprocess_api.create(SVCS, node_port_svc("a", 30080))
    code, status = await inprocess_api.status_of("POST", SVCS, json=node_port_svc("b", 30080))
    assert code == 422
    assert status["reason"] == "Invalid"
    assert status["message"].startswith(
        'Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is already allocated"
    )
    assert status["details"]["name"] == "b" and status["details"]["kind"] == "Service"
    assert [c["field"] for c in status["details"]["causes"]] == ["spec.ports[0].nodePort"]
    code, _ = await inprocess_api.status_of("GET", f"{SVCS}/b")
    assert code == 404


async def test_refused_update_leaves_the_port_with_its_service(
    inprocess_api: InProcessApi,
) -> None:
    await inprocess_api.create(SVCS, node_port_svc("a", 30080))
    b = await inprocess_api.create(SVCS, node_port_svc("b", 30081))
    b["spec"]["ports"][0]["nodePort"] = 30080
    code, status = await inprocess_api.status_of("PUT", f"{SVCS}/b", json=b)
    assert code == 422, status
    assert "spec.ports[0].nodePort: Invalid value: 30080" in status["message"]
    _, stored = await inprocess_api.status_of("GET", f"{SVCS}/b")
    assert node_port_of(stored) == 30081
    # b still holds 30081: the refused update must not have let go of it.
    code, status = await inprocess_api.status_of("POST", SVCS, json=node_port_svc("c", 30081))
    assert code == 422, status


async def test_two_creates_at_once_cannot_share_a_port(inprocess_api: InProcessApi) -> None:
    results = await asyncio.gather(
        *(
            inprocess_api.status_of("POST", SVCS, json=node_port_svc(f"s{i}", 30090))
            for i in range(8)
        )
    )
    codes = sorted(code for code, _ in results)
    assert codes == [201] + [422] * 7


async def test_a_create_that_fails_or_is_a_dry_run_holds_no_port(
    inprocess_api: InProcessApi,
) -> None:
    a = await inprocess_api.create(SVCS, node_port_svc("a"))
    # A dry run shows the port it would get, and keeps none.
    code, dry = await inprocess_api.status_of(
        "POST", SVCS, json=node_port_svc("d"), params={"dryRun": "All"}
    )
    assert code == 201, dry
    dry_port = node_port_of(dry)
    assert dry_port != node_port_of(a)
    # A create of a taken name is refused with 409, and keeps no port either.
    code, _ = await inprocess_api.status_of("POST", SVCS, json=node_port_svc("a", 30100))
    assert code == 409
    e = await inprocess_api.create(SVCS, node_port_svc("e", dry_port))
    assert node_port_of(e) == dry_port
    await inprocess_api.create(SVCS, node_port_svc("f", 30100))


async def test_update_without_node_port_keeps_the_one_it_had(inprocess_api: InProcessApi) -> None:
    a = await inprocess_api.create(SVCS, node_port_svc("a"))
    body = node_port_svc("a")  # as `kubectl replace` of the original manifest sends it
    body["metadata"]["resourceVersion"] = a["metadata"]["resourceVersion"]
    code, replaced = await inprocess_api.status_of("PUT", f"{SVCS}/a", json=body)
    assert code == 200, replaced
    assert node_port_of(replaced) == node_port_of(a)


async def test_a_create_whose_commit_fails_holds_no_port(
    inprocess_api: InProcessApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = inprocess_api.server.store
    commit = store._commit

    def disk_full_once(*args: Any, **kwargs: Any) -> None:
        monkeypatch.setattr(store, "_commit", commit)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "_commit", disk_full_once)
    code, status = await inprocess_api.status_of("POST", SVCS, json=node_port_svc("a", 30110))
    assert code == 507, status
    # Space is back: the port of the Service that was never stored is free.
    b = await inprocess_api.create(SVCS, node_port_svc("b", 30110))
    assert node_port_of(b) == 30110
