"""Our client against the real apiserver over HTTPS: CRUD, the patch types, errors,
watch (resume across a restart, 410 → relist) and the informer."""

from __future__ import annotations

import asyncio
import queue
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from client import (
    ApiError,
    AsyncClient,
    Client,
    Informer,
    ServerUnreachable,
    object_key,
)
from tests.harness import ApiServer, start_apiserver
from tests.wait import wait_for_async

Obj = dict[str, Any]


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def pod(name: str, **labels: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": "web"}},
        "spec": {
            "containers": [
                {"name": "main", "image": "busybox", "ports": [{"containerPort": 80}]},
                {"name": "side", "image": "busybox"},
            ]
        },
    }


def arun(fn: Callable[[], Awaitable[Any]], timeout: float = 60) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), timeout))


@pytest.fixture
def client(shared_apiserver: ApiServer) -> Iterator[Client]:
    with shared_apiserver.client() as c:
        yield c


def test_crud_and_the_patch_types(client: Client) -> None:
    name = uniq("crud")
    created = client.create("pods", pod(name, app=name))
    assert created["metadata"]["namespace"] == "default"
    assert client.get("po", name)["metadata"]["uid"] == created["metadata"]["uid"]
    listed = client.list("pods", "default", label_selector=f"app={name}")
    assert [o["metadata"]["name"] for o in listed["items"]] == [name]

    stale = client.get("pods", name)
    client.patch("pods", name, {"metadata": {"labels": {"tier": "a"}}})  # merge
    with pytest.raises(ApiError) as e:
        client.replace("pods", name, stale)
    assert (e.value.code, e.value.reason) == (409, "Conflict")

    fresh = client.get("pods", name)
    fresh["metadata"]["annotations"] = {"replaced": "yes"}
    assert client.replace("pods", name, fresh)["metadata"]["annotations"]["replaced"] == "yes"

    # Strategic merge: the containers list merges by name, so ports survive.
    smp = {"spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}
    out = client.patch("pods", name, smp, patch_type="strategic")
    main = next(c for c in out["spec"]["containers"] if c["name"] == "main")
    assert main["image"] == "busybox:1.36"
    assert main["ports"][0]["containerPort"] == 80
    assert len(out["spec"]["containers"]) == 2

    ops = [{"op": "add", "path": "/metadata/labels/jsonpatched", "value": "1"}]
    out = client.patch("pods", name, ops, patch_type="json")
    assert out["metadata"]["labels"]["jsonpatched"] == "1"
    assert out["metadata"]["labels"]["tier"] == "a"

    deleted = client.delete("pods", name)
    assert deleted.get("metadata", {}).get("name", name) == name
    with pytest.raises(ApiError) as e:
        client.get("pods", name)
    assert (e.value.code, e.value.reason) == (404, "NotFound")


def test_server_side_apply_creates_then_updates(client: Client) -> None:
    name = uniq("apply")
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}
    first = client.patch("configmaps", name, cm, "default", patch_type="apply")
    assert first["data"] == {"a": "1"}
    cm["data"] = {"a": "2", "b": "3"}
    second = client.patch("configmaps", name, cm, "default", patch_type="apply")
    assert second["data"] == {"a": "2", "b": "3"}


def test_scale_subresource_and_binding(client: Client) -> None:
    dep = uniq("dep")
    client.create(
        "deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": dep},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": dep}},
                "template": {
                    "metadata": {"labels": {"app": dep}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
    )
    client.patch("deployments", dep, {"spec": {"replicas": 3}}, subresource="scale")
    assert client.get("deployments", dep, subresource="scale")["spec"]["replicas"] == 3
    assert client.get("deploy", dep)["spec"]["replicas"] == 3

    node = uniq("node")
    client.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}})
    name = uniq("bind")
    client.create("pods", pod(name))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"kind": "Node", "name": node},
    }
    client.create("pods", binding, "default", subresource="binding", name=name)
    assert client.get("pods", name)["spec"]["nodeName"] == node
    with pytest.raises(ApiError) as e:
        client.create("pods", binding, "default", subresource="binding", name=name)
    assert e.value.code == 409


def test_errors_are_readable(client: Client, shared_apiserver: ApiServer, tmp_path: Path) -> None:
    name = uniq("err")
    client.create("configmaps", {"metadata": {"name": name}})
    with pytest.raises(ApiError) as e:
        client.create("configmaps", {"metadata": {"name": name}})
    assert (e.value.code, e.value.reason) == (409, "AlreadyExists")
    with pytest.raises(ApiError) as e:
        client.create("configmaps", {"metadata": {"name": "Not_A_Name"}})
    assert e.value.code == 422 and e.value.reason == "Invalid"
    assert "metadata.name" in e.value.message

    with Client(shared_apiserver.url, token="wrong", ca_file=str(shared_apiserver.ca_file)) as bad:
        with pytest.raises(ApiError) as e:
            bad.list("pods")
        assert e.value.code == 401

    # A CA that did not sign the server's certificate: a TLS failure, said plainly.
    other = start_apiserver(tmp_path / "other-home")
    try:
        foreign_ca = other.ca_file.read_bytes()
    finally:
        other.stop()
    with Client(shared_apiserver.url, token=shared_apiserver.token, ca_data=foreign_ca) as c:
        with pytest.raises(ServerUnreachable, match="TLS certificate verification failed"):
            c.list("pods")


def test_list_all_pages(client: Client) -> None:
    ns_label = uniq("page")
    for i in range(7):
        client.create(
            "configmaps", {"metadata": {"name": f"{ns_label}-{i}", "labels": {"set": ns_label}}}
        )
    page = client.list("configmaps", "default", label_selector=f"set={ns_label}", limit=3)
    assert len(page["items"]) <= 7
    everything = client.list_all(
        "configmaps", "default", label_selector=f"set={ns_label}", page_size=3
    )
    assert sorted(o["metadata"]["name"] for o in everything["items"]) == [
        f"{ns_label}-{i}" for i in range(7)
    ]


def test_watch_sync_and_async(client: Client, shared_apiserver: ApiServer) -> None:
    name = uniq("w")
    rv = client.list("pods", "default")["metadata"]["resourceVersion"]
    client.create("pods", pod(name, app=name))
    client.patch("pods", name, {"metadata": {"labels": {"x": "1"}}})
    client.delete("pods", name)
    seen = [
        (e["type"], e["object"]["metadata"].get("name"))
        for e in client.watch("pods", "default", resource_version=rv, timeout_seconds=1)
        if e["type"] != "BOOKMARK"
    ]
    assert [s for s in seen if s[1] == name] == [
        ("ADDED", name),
        ("MODIFIED", name),
        ("DELETED", name),
    ]

    async def main() -> list[str]:
        async with shared_apiserver.async_client() as ac:
            types: list[str] = []
            async for ev in ac.watch("pods", "default", resource_version=rv, timeout_seconds=1):
                if ev["object"]["metadata"].get("name") == name:
                    types.append(ev["type"])
            return types

    assert arun(main) == ["ADDED", "MODIFIED", "DELETED"]


def test_expired_watch_and_relist(tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path / "home", extra_args=["--keep-revisions", "10"])
    try:
        with srv.client() as c:
            c.create("configmaps", {"metadata": {"name": "early"}})
            rv0 = c.list("configmaps", "default")["metadata"]["resourceVersion"]
            for i in range(250):  # compaction runs every 200 writes
                c.create("configmaps", {"metadata": {"name": f"cm-{i}"}})
            with pytest.raises(ApiError) as e:
                list(c.watch("configmaps", "default", resource_version=rv0, timeout_seconds=1))
            assert (e.value.code, e.value.reason) == (410, "Expired")

            gen = c.watch_forever("configmaps", "default", resource_version=rv0, timeout_seconds=5)
            names = set()
            for ev in gen:
                assert ev["type"] in ("ADDED", "BOOKMARK")
                if ev["type"] == "ADDED":
                    names.add(ev["object"]["metadata"]["name"])
                if len(names) == 251:
                    break
            assert names == {"early"} | {f"cm-{i}" for i in range(250)}
            c.create("configmaps", {"metadata": {"name": "after"}})
            ev = next(e for e in gen if e["type"] != "BOOKMARK")
            assert (ev["type"], ev["object"]["metadata"]["name"]) == ("ADDED", "after")
            gen.close()
    finally:
        srv.stop()


def test_watch_forever_and_informer_survive_a_restart(apiserver: ApiServer) -> None:
    c = apiserver.client()
    c.create("pods", pod("before"))
    events: queue.Queue[Obj] = queue.Queue()
    stop = threading.Event()

    def consume() -> None:
        with apiserver.client() as wc:
            gen = wc.watch_forever("pods", "default", timeout_seconds=30, max_backoff=0.5)
            for ev in gen:
                if ev["type"] != "BOOKMARK":
                    events.put(ev)
                if stop.is_set():
                    break
            gen.close()

    def next_event() -> tuple[str, str]:
        ev = events.get(timeout=30)
        return ev["type"], ev["object"]["metadata"]["name"]

    async def main() -> None:
        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        async with apiserver.async_client() as ac:
            inf = Informer(ac, "pods", "default", page_size=1, max_backoff=0.5)
            log: list[tuple[str, str]] = []
            inf.add_handler(
                on_add=lambda o: log.append(("add", object_key(o))),
                on_update=lambda old, new: log.append(("update", object_key(new))),
                on_delete=lambda o: log.append(("delete", object_key(o))),
            )
            task = asyncio.create_task(inf.run())
            await inf.wait_synced(20)
            assert inf.keys() == ["default/before"]
            assert await asyncio.to_thread(next_event) == ("ADDED", "before")

            await asyncio.to_thread(c.create, "pods", pod("live"))
            await wait_for_async(
                lambda: inf.get("default/live") is not None,
                "live pod in the cache",
                20,
            )
            assert await asyncio.to_thread(next_event) == ("ADDED", "live")

            await asyncio.to_thread(apiserver.restart)

            await asyncio.to_thread(c.create, "pods", pod("after"))
            await asyncio.to_thread(c.delete, "pods", "before")
            await wait_for_async(
                lambda: inf.get("default/after") is not None,
                "the pod created after the restart in the cache",
                20,
            )
            await wait_for_async(
                lambda: inf.get("default/before") is None,
                "the pod deleted meanwhile gone from the cache",
                20,
            )
            assert await asyncio.to_thread(next_event) == ("ADDED", "after")
            assert await asyncio.to_thread(next_event) == ("DELETED", "before")
            assert log == [
                ("add", "default/before"),
                ("add", "default/live"),
                ("add", "default/after"),
                ("delete", "default/before"),
            ]
            stop.set()
            await asyncio.to_thread(c.create, "pods", pod("final"))
            await asyncio.to_thread(consumer.join, 20)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    try:
        arun(main, timeout=120)
    finally:
        c.close()


def test_async_crud(shared_apiserver: ApiServer) -> None:
    name = uniq("async")

    async def main() -> None:
        async with AsyncClient.from_kubeconfig(shared_apiserver.kubeconfig) as ac:
            await ac.create("configmaps", {"metadata": {"name": name}, "data": {"k": "v"}})
            got = await ac.get("configmaps", name)
            assert got["data"] == {"k": "v"}
            await ac.patch("configmaps", name, {"data": {"k": "w"}})
            items = (await ac.list_all("configmaps", "default"))["items"]
            assert any(o["metadata"]["name"] == name and o["data"]["k"] == "w" for o in items)
            await ac.delete("configmaps", name)
            with pytest.raises(ApiError) as e:
                await ac.get("configmaps", name)
            assert e.value.code == 404

    arun(main)
