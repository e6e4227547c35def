"""Watches: over HTTP in process (apiserver/rest.py's watch), and line by line at the level
of apiserver/watch.py.

httpx.ASGITransport answers once the app has finished the response, so an HTTP watch here
is read after its ``timeoutSeconds=1`` window closes, with all the events of the window;
reading a stream while events happen is done on ``apiserver.watch.stream`` itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from api.selectors import SelectionPredicate
from apiserver.store import Store
from apiserver.watch import Watcher, WatchHub, stream
from tests.inprocess import InProcessApi, inprocess_apiserver

pytestmark = [pytest.mark.anyio, pytest.mark.inprocess]

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
MERGE = {"content-type": "application/merge-patch+json"}


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


def events(body: bytes) -> list[tuple[str, str, int]]:
    """(type, name, resourceVersion) of each watch line."""
    out = []
    for line in body.splitlines():
        ev = orjson.loads(line)
        meta = ev["object"]["metadata"]
        out.append((ev["type"], meta.get("name", ""), int(meta["resourceVersion"])))
    return out


async def list_rv(api: InProcessApi, path: str) -> str:
    r = await api.client.get(path)
    assert r.status_code == 200, r.text
    rv: str = r.json()["metadata"]["resourceVersion"]
    return rv


async def change_configmaps(api: InProcessApi) -> None:
    """web: ADDED, MODIFIED, DELETED; db: ADDED."""
    await api.create(CONFIGMAPS, configmap("web", app="web"))
    await api.create(CONFIGMAPS, configmap("db", app="db"))
    r = await api.client.patch(f"{CONFIGMAPS}/web", json={"data": {"k": "v"}}, headers=MERGE)
    assert r.status_code == 200, r.text
    assert (await api.client.delete(f"{CONFIGMAPS}/web")).status_code == 200


async def test_watch_from_a_resource_version_replays_added_modified_deleted(
    inprocess_api_any_db: InProcessApi,
) -> None:
    api = inprocess_api_any_db
    rv = await list_rv(api, CONFIGMAPS)
    await change_configmaps(api)
    r = await api.client.get(
        CONFIGMAPS, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
    )
    assert r.status_code == 200, r.text
    got = events(r.content)
    assert [(t, n) for t, n, _ in got] == [
        ("ADDED", "web"),
        ("ADDED", "db"),
        ("MODIFIED", "web"),
        ("DELETED", "web"),
    ]
    rvs = [v for _, _, v in got]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


async def test_watch_with_selectors_sees_only_what_they_select_live_and_replayed(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    rv = await list_rv(api, CONFIGMAPS)
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
    # One watch opened before the writes (they reach it live or from the backlog), one
    # after them (the backlog only): both must see the same events.
    # The early watch's window must outlast the writes (ASGITransport answers when it
    # closes): 3 s, where the four writes take milliseconds.
    early = asyncio.ensure_future(
        api.client.get(
            CONFIGMAPS, params={**params, "labelSelector": "app=web", "timeoutSeconds": "3"}
        )
    )
    await change_configmaps(api)
    late = await api.client.get(
        CONFIGMAPS,
        params={**params, "labelSelector": "app=web", "fieldSelector": "metadata.name=web,"},
    )
    for r in (await early, late):
        assert r.status_code == 200, r.text
        assert [(t, n) for t, n, _ in events(r.content)] == [
            ("ADDED", "web"),
            ("MODIFIED", "web"),
            ("DELETED", "web"),
        ]


async def test_watch_of_one_object_by_name_with_a_field_selector_too(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    rv = await list_rv(api, CONFIGMAPS)
    await change_configmaps(api)
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
    # The URL's name and the request's field selector both hold (a trailing comma in the
    # selector must not break the combination).
    r = await api.client.get(
        f"{CONFIGMAPS}/db", params={**params, "fieldSelector": "metadata.namespace=default,"}
    )
    assert r.status_code == 200, r.text
    assert [(t, n) for t, n, _ in events(r.content)] == [("ADDED", "db")]


async def test_watch_without_resource_version_starts_with_the_current_objects(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    await api.create(CONFIGMAPS, configmap("a", app="web"))
    await api.create(CONFIGMAPS, configmap("b", app="db"))
    r = await api.client.get(
        CONFIGMAPS, params={"watch": "true", "labelSelector": "app=db", "timeoutSeconds": "1"}
    )
    assert [(t, n) for t, n, _ in events(r.content)] == [("ADDED", "b")]


async def test_watch_from_a_compacted_resource_version_is_410_expired(tmp_path: Path) -> None:
    async with inprocess_apiserver(tmp_path / "home", keep_revisions=2) as api:
        rv = await list_rv(api, CONFIGMAPS)
        # The store compacts its change log every 200 writes.
        for i in range(210):
            await api.create(CONFIGMAPS, configmap(f"c{i}"))
        code, status = await api.status_of(
            "GET",
            CONFIGMAPS,
            params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"},
        )
        assert code == 410 and status["reason"] == "Expired", status
        assert "list again" in status["message"]


# -- apiserver/watch.py: the stream, read line by line while events happen ---------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    s.start(asyncio.get_running_loop())
    try:
        yield s
    finally:
        s.stop()


async def next_line(gen: AsyncIterator[bytes]) -> list[tuple[str, str]]:
    async with asyncio.timeout(10):  # a deadline against a hang, not a timed assertion
        chunk = await anext(gen)
    return [(t, n) for t, n, _ in events(chunk)]


async def put(store: Store, resource: str, obj: dict[str, Any] | None, name: str = "") -> None:
    """Write ``obj`` (None: delete ``name``) straight into the store, as the REST layer does
    once a request is admitted."""
    name = name or (obj or {})["metadata"]["name"]
    await store.mutate(resource, "default", name, lambda _current: obj)


def pod(name: str, node: str) -> dict[str, Any]:
    meta = {"name": name, "namespace": "default"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": node}}


async def test_a_registered_watcher_gets_each_commit_live(store: Store) -> None:
    hub = WatchHub(store)
    w = Watcher("/configmaps", "default", SelectionPredicate.from_query("app=web", None))
    hub.register(w)
    gen = stream(hub, w, [], store.committed_rv, 60, False, "ConfigMap", "v1", False)
    web = configmap("web", app="web")
    try:
        await put(store, "/configmaps", configmap("db", app="db"))
        await put(store, "/configmaps", web)
        assert await next_line(gen) == [("ADDED", "web")]
        await put(store, "/configmaps", {**web, "data": {"k": "v"}})
        assert await next_line(gen) == [("MODIFIED", "web")]
        await put(store, "/configmaps", {**configmap("db", app="db"), "data": {"k": "v"}})
        await put(store, "/configmaps", None, name="web")
        # db's change is not selected: the next line is web's deletion.
        assert await next_line(gen) == [("DELETED", "web")]
    except StopAsyncIteration:
        pytest.fail("the stream ended early")
    finally:
        await gen.aclose()
    assert hub.count == 0  # a closed stream unregisters its watcher


async def test_pod_watchers_of_a_node_get_only_that_nodes_pods(store: Store) -> None:
    hub = WatchHub(store)
    w = Watcher("/pods", None, SelectionPredicate.from_query(None, "spec.nodeName=n1"))
    hub.register(w)
    assert hub._by_node["/pods"]["n1"] == {w}  # indexed by node, not offered every pod
    gen = stream(hub, w, [], store.committed_rv, 60, False, "Pod", "v1", False)
    try:
        await put(store, "/pods", pod("elsewhere", "n2"))
        await put(store, "/pods", pod("here", "n1"))
        assert await next_line(gen) == [("ADDED", "here")]
        await put(store, "/pods", None, name="here")
        assert await next_line(gen) == [("DELETED", "here")]
    finally:
        await gen.aclose()
    assert "n1" not in hub._by_node["/pods"]


async def test_a_lingering_stream_sends_a_burst_as_one_write(store: Store) -> None:
    hub = WatchHub(store)
    w = Watcher("/configmaps", "default", SelectionPredicate.from_query("", None))
    hub.register(w)
    gen = stream(hub, w, [], store.committed_rv, 60, False, "ConfigMap", "v1", False, linger=0.3)
    try:
        first = asyncio.ensure_future(next_line(gen))
        await put(store, "/configmaps", configmap("a"))
        await asyncio.sleep(0.05)  # the stream has the first event and lingers
        await put(store, "/configmaps", configmap("b"))
        await put(store, "/configmaps", configmap("c"))
        assert await first == [("ADDED", "a"), ("ADDED", "b"), ("ADDED", "c")]
    finally:
        await gen.aclose()
