"""Writes that change nothing (apiserver/store.py ``mutate``), in process: as Kubernetes'
GuaranteedUpdate, a PATCH or PUT whose result is the stored object stores nothing, keeps
the resourceVersion (and generation) and sends no watch event; any real change still does.

An HTTP watch here answers when its ``timeoutSeconds=1`` window closes, with every event
of the window (tests/inprocess.py); that one-second wait is how these tests show that
no event happens.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from apiserver.store import MODIFIED, UNCHANGED, Store
from tests.inprocess import InProcessApi

pytestmark = [pytest.mark.anyio, pytest.mark.inprocess]

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
PODS = "/api/v1/namespaces/default/pods"
MERGE = {"content-type": "application/merge-patch+json"}
STRATEGIC = {"content-type": "application/strategic-merge-patch+json"}
JSON_PATCH = {"content-type": "application/json-patch+json"}
APPLY = {"content-type": "application/apply-patch+yaml"}


def deployment(name: str) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"team": "a"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


async def watched(api: InProcessApi, path: str, rv: str) -> list[tuple[str, str]]:
    """(type, resourceVersion) of each event after ``rv`` in a one-second watch."""
    r = await api.client.get(
        path, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
    )
    assert r.status_code == 200, r.text
    out = []
    for line in r.content.splitlines():
        ev = orjson.loads(line)
        out.append((ev["type"], ev["object"]["metadata"]["resourceVersion"]))
    return out


async def unchanged(api: InProcessApi, path: str, before: dict[str, Any], r: Any) -> None:
    """``r`` answered 200 with the stored object, unchanged; so does a GET."""
    assert r.status_code == 200, r.text
    assert r.json() == before
    got = await api.client.get(path)
    assert got.json() == before


async def test_no_op_patches_and_put_keep_the_resource_version_and_send_no_event(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    await api.create(DEPLOYMENTS, deployment("web"))
    path = f"{DEPLOYMENTS}/web"
    # A first apply makes "test" the owner of its fields (a managedFields entry: a real
    # write); the same apply again is one of the no-ops below.
    applied = await api.client.patch(
        path,
        content=orjson.dumps(deployment("web")),
        headers=APPLY,
        params={"fieldManager": "test"},
    )
    assert applied.status_code == 200, applied.text
    before = applied.json()
    # Apply entries first, then Update ones (the create's, named by httpx's User-Agent).
    assert [e["manager"] for e in before["metadata"]["managedFields"]] == ["test", "python-httpx"]
    rv = before["metadata"]["resourceVersion"]
    assert before["metadata"]["generation"] == 1
    same_labels = {"metadata": {"labels": {"team": "a"}}}
    writes = [
        api.client.patch(path, json=same_labels, headers=MERGE),
        api.client.patch(path, json={"spec": {"replicas": 2}}, headers=STRATEGIC),
        api.client.patch(
            path,
            json=[{"op": "replace", "path": "/metadata/labels/team", "value": "a"}],
            headers=JSON_PATCH,
        ),
        api.client.patch(path, json=[], headers=JSON_PATCH),
        api.client.put(path, json=before),
        # A PUT without a resourceVersion, its keys in another order than stored.
        api.client.put(
            path,
            json={
                "spec": before["spec"],
                "metadata": {k: v for k, v in before["metadata"].items() if k != "resourceVersion"},
                "kind": "Deployment",
                "apiVersion": "apps/v1",
            },
        ),
        api.client.patch(
            path,
            content=orjson.dumps(deployment("web")),
            headers=APPLY,
            params={"fieldManager": "test"},
        ),
    ]
    for write in writes:
        await unchanged(api, path, before, await write)
    assert await watched(api, DEPLOYMENTS, rv) == []


async def test_a_real_change_after_no_ops_still_bumps_and_is_watched(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    before = await api.create(DEPLOYMENTS, deployment("web"))
    path = f"{DEPLOYMENTS}/web"
    rv = before["metadata"]["resourceVersion"]
    r = await api.client.patch(path, json={"metadata": {"labels": {"team": "a"}}}, headers=MERGE)
    await unchanged(api, path, before, r)
    labelled = await api.client.patch(
        path, json={"metadata": {"labels": {"team": "b"}}}, headers=MERGE
    )
    assert labelled.status_code == 200, labelled.text
    meta = labelled.json()["metadata"]
    assert int(meta["resourceVersion"]) > int(rv)
    assert meta["generation"] == 1  # a label is not the spec
    scaled = await api.client.patch(path, json={"spec": {"replicas": 3}}, headers=MERGE)
    assert scaled.json()["metadata"]["generation"] == 2
    again = await api.client.patch(path, json={"spec": {"replicas": 3}}, headers=MERGE)
    assert again.json() == scaled.json()  # no bump of generation either
    assert await watched(api, DEPLOYMENTS, rv) == [
        ("MODIFIED", meta["resourceVersion"]),
        ("MODIFIED", scaled.json()["metadata"]["resourceVersion"]),
    ]


@pytest.mark.parametrize(
    "patch",
    [
        {"metadata": {"annotations": {"a": "1"}}},
        {"metadata": {"finalizers": ["example.com/hold"]}},
        {
            "metadata": {
                "ownerReferences": [
                    {"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": "u-1"}
                ]
            }
        },
        {"metadata": {"labels": {"team": None}}},
        {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx"}]}}}},
    ],
)
async def test_each_kind_of_change_is_written(
    inprocess_api: InProcessApi, patch: dict[str, Any]
) -> None:
    api = inprocess_api
    before = await api.create(DEPLOYMENTS, deployment("web"))
    r = await api.client.patch(f"{DEPLOYMENTS}/web", json=patch, headers=STRATEGIC)
    assert r.status_code == 200, r.text
    assert int(r.json()["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    # Leave no finalizer behind for the fixture's shutdown.
    await api.client.patch(
        f"{DEPLOYMENTS}/web", json={"metadata": {"finalizers": None}}, headers=MERGE
    )


async def test_a_no_op_status_write_and_a_real_one(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    await api.create(PODS, pod)
    status = f"{PODS}/p/status"
    first = await api.client.patch(status, json={"status": {"phase": "Running"}}, headers=MERGE)
    assert first.status_code == 200, first.text
    rv = first.json()["metadata"]["resourceVersion"]
    again = await api.client.patch(status, json={"status": {"phase": "Running"}}, headers=MERGE)
    await unchanged(api, f"{PODS}/p", first.json(), again)
    done = await api.client.patch(status, json={"status": {"phase": "Succeeded"}}, headers=MERGE)
    assert int(done.json()["metadata"]["resourceVersion"]) > int(rv)
    assert [t for t, _ in await watched(api, PODS, rv)] == ["MODIFIED"]


async def test_a_delete_is_written_and_a_repeated_one_changes_nothing(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]},
    }
    created = await api.create("/api/v1/namespaces/default/configmaps", cm)
    path = "/api/v1/namespaces/default/configmaps/held"
    marked = await api.client.delete(path)
    assert marked.status_code in (200, 202), marked.text
    meta = marked.json()["metadata"]
    assert meta["deletionTimestamp"]
    assert int(meta["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    repeated = await api.client.delete(path)
    assert repeated.json()["metadata"]["resourceVersion"] == meta["resourceVersion"]
    released = await api.client.patch(path, json={"metadata": {"finalizers": None}}, headers=MERGE)
    assert released.status_code == 200, released.text
    assert (await api.client.get(path)).status_code == 404


async def test_a_no_op_on_an_uncommitted_write_answers_once_that_is_durable(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    store.start(asyncio.get_running_loop())
    try:
        obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
        await store.mutate("/configmaps", "default", "c", lambda _: dict(obj))
        changed = {**obj, "data": {"k": "v"}}
        # Both decided before either commits: the second reads the first's pending state.
        first = asyncio.ensure_future(
            store.mutate("/configmaps", "default", "c", lambda _: dict(changed))
        )
        await asyncio.sleep(0)  # let the first compute and queue (mutate computes at once)
        second = await store.mutate("/configmaps", "default", "c", lambda current: current)
        assert store.committed_rv == second.rv  # answered only once the first is durable
        written = await first
        assert written.type == MODIFIED
        assert second.type == UNCHANGED and second.rv == written.rv
        assert second.obj == written.obj
    finally:
        store.stop()
