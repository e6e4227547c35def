"""Selective watches follow objects into and out of their selection (apiserver/watch.py).

A change that makes an object match a watch's selector reaches it as ADDED, one that makes
it stop matching as DELETED (carrying the state the watch last saw, at the change's
resourceVersion), one that keeps it matching as MODIFIED, and one that never matches not at
all: Kubernetes' watch cache (``cacheWatcher.convertToWatchEvent``). The same sequence comes
live, replayed from the store's recent-events ring, and replayed from the durable log.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from api.errors import ApiError
from api.selectors import SelectionPredicate
from apiserver.store import Store
from apiserver.watch import Watcher, WatchHub, stream
from tests.inprocess import InProcessApi

pytestmark = [pytest.mark.anyio, pytest.mark.inprocess]

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
MERGE = {"content-type": "application/merge-patch+json"}

# (type, name, labels or phase of the object sent, resourceVersion)
Line = tuple[str, str, Any, int]


def parse(body: bytes, what: str) -> list[Line]:
    out = []
    for raw in body.splitlines():
        ev = orjson.loads(raw)
        obj = ev["object"]
        meta = obj["metadata"]
        shown = meta.get("labels") if what == "labels" else (obj.get("status") or {}).get("phase")
        out.append((ev["type"], meta["name"], shown, int(meta["resourceVersion"])))
    return out


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'state.db'}")
    s.start(asyncio.get_running_loop())
    try:
        yield s
    finally:
        s.stop()


def configmap(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": labels}}


def pod(name: str, phase: str, node: str = "n1") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": node},
        "status": {"phase": phase},
    }


async def put(store: Store, resource: str, obj: dict[str, Any]) -> int:
    ev = await store.mutate(resource, "default", obj["metadata"]["name"], lambda _c: obj)
    return ev.rv


async def label_changes(store: Store) -> list[int]:
    """``web`` enters, stays in, leaves and re-enters ``app=web``; ``db`` never matches.
    Returns the revisions of web's writes."""
    rvs = [await put(store, "/configmaps", configmap("web"))]  # no label: not selected
    await put(store, "/configmaps", configmap("db", app="db"))
    rvs.append(await put(store, "/configmaps", configmap("web", app="web")))  # enters
    rvs.append(await put(store, "/configmaps", configmap("web", app="web", v="2")))  # stays
    await put(store, "/configmaps", configmap("db", app="db", v="2"))  # never matches
    rvs.append(await put(store, "/configmaps", configmap("web", v="3")))  # leaves
    rvs.append(await put(store, "/configmaps", configmap("web", app="web", v="4")))  # back
    return rvs


def expected_label_lines(rvs: list[int]) -> list[Line]:
    return [
        ("ADDED", "web", {"app": "web"}, rvs[1]),
        ("MODIFIED", "web", {"app": "web", "v": "2"}, rvs[2]),
        # DELETED carries the state the watch last matched, at the leaving change's RV.
        ("DELETED", "web", {"app": "web", "v": "2"}, rvs[3]),
        ("ADDED", "web", {"app": "web", "v": "4"}, rvs[4]),
    ]


async def read_all(gen: AsyncIterator[bytes], what: str, n: int) -> list[Line]:
    got: list[Line] = []
    async with asyncio.timeout(10):  # a deadline against a hang, not a timed assertion
        while len(got) < n:
            got.extend(parse(await anext(gen), what))
    return got


async def watch_lines(
    hub: WatchHub, w: Watcher, start_rv: int, what: str, n: int, kind: str
) -> list[Line]:
    hub.register(w)
    gen = stream(hub, w, [], start_rv, 60, False, kind, "v1", False)
    try:
        return await read_all(gen, what, n)
    finally:
        await gen.aclose()


async def test_label_selected_watch_live_and_replayed_from_the_ring(store: Store) -> None:
    hub = WatchHub(store)
    start = store.committed_rv
    live = Watcher("/configmaps", "default", SelectionPredicate.from_query("app=web", None))
    hub.register(live)
    gen = stream(hub, live, [], start, 60, False, "ConfigMap", "v1", False)
    try:
        rvs = await label_changes(store)
        assert await read_all(gen, "labels", 4) == expected_label_lines(rvs)
    finally:
        await gen.aclose()
    replay = Watcher("/configmaps", None, SelectionPredicate.from_query("app=web", None))
    assert store.events_since(start) is not None  # served by the ring
    got = await watch_lines(hub, replay, start, "labels", 4, "ConfigMap")
    assert got == expected_label_lines(rvs)


async def test_label_selected_watch_replayed_from_the_durable_log(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = Store(url)
    first.start(asyncio.get_running_loop())
    try:
        start = first.committed_rv
        rvs = await label_changes(first)
    finally:
        first.stop()
    # A restarted store: its ring is empty, so the replay reads the change log.
    again = Store(url)
    again.start(asyncio.get_running_loop())
    try:
        assert again.events_since(start) is None
        hub = WatchHub(again)
        w = Watcher("/configmaps", None, SelectionPredicate.from_query("app=web", None))
        got = await watch_lines(hub, w, start, "labels", 4, "ConfigMap")
        assert got == expected_label_lines(rvs)
        # An unselective replay is unchanged: every event as it was written.
        everything = Watcher("/configmaps", None, SelectionPredicate.from_query(None, None))
        hub.register(everything)
        types = [(e.type, e.name) for e in hub.backlog(everything, start)]
        assert types == [
            ("ADDED", "web"),
            ("ADDED", "db"),
            ("MODIFIED", "web"),
            ("MODIFIED", "web"),
            ("MODIFIED", "db"),
            ("MODIFIED", "web"),
            ("MODIFIED", "web"),
        ]
    finally:
        again.stop()


async def test_log_replay_whose_previous_state_is_compacted_is_410(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    first = Store(url, keep_revisions=2)
    first.start(asyncio.get_running_loop())
    try:
        await put(first, "/configmaps", configmap("web", app="web"))
        # The store compacts its change log every 200 writes: web's creation goes.
        for i in range(210):
            await put(first, "/configmaps", configmap(f"c{i}"))
        assert first.compacted_rv > 1
        start = first.committed_rv
        await put(first, "/configmaps", configmap("web"))  # leaves app=web
    finally:
        first.stop()
    again = Store(url)
    again.start(asyncio.get_running_loop())
    try:
        hub = WatchHub(again)
        w = Watcher("/configmaps", None, SelectionPredicate.from_query("app=web", None))
        # Whether the client holds web (and must get DELETED) cannot be told from the log:
        # 410, so it lists again, rather than silently keeping an object that left.
        with pytest.raises(ApiError) as err:
            hub.backlog(w, start)
        assert err.value.code == 410
        # Through the stream (the HTTP response has already started): one ERROR event
        # carrying the 410 Status, as Kubernetes sends it, then the end; not a dropped
        # connection that the client would retry at the same resourceVersion.
        hub.register(w)
        gen = stream(hub, w, [], start, 60, False, "ConfigMap", "v1", False)
        async with asyncio.timeout(10):  # a deadline against a hang, not a timed assertion
            lines = [line async for line in gen]
        assert len(lines) == 1
        ev = orjson.loads(lines[0])
        assert ev["type"] == "ERROR"
        assert ev["object"]["kind"] == "Status" and ev["object"]["code"] == 410
        assert ev["object"]["reason"] == "Expired"
    finally:
        again.stop()


async def test_field_selector_on_pod_phase(store: Store) -> None:
    hub = WatchHub(store)
    start = store.committed_rv
    live = Watcher("/pods", "default", SelectionPredicate.from_query(None, "status.phase=Running"))
    hub.register(live)
    gen = stream(hub, live, [], start, 60, False, "Pod", "v1", False)
    try:
        await put(store, "/pods", pod("p", "Pending"))
        await put(store, "/pods", pod("never", "Pending"))
        r1 = await put(store, "/pods", pod("p", "Running"))
        r2 = await put(
            store,
            "/pods",
            {
                **pod("p", "Running"),
                "metadata": {"name": "p", "namespace": "default", "labels": {"x": "y"}},
            },
        )
        await put(store, "/pods", pod("never", "Failed"))
        r3 = await put(store, "/pods", pod("p", "Succeeded"))
        want = [
            ("ADDED", "p", "Running", r1),
            ("MODIFIED", "p", "Running", r2),
            ("DELETED", "p", "Running", r3),
        ]
        assert await read_all(gen, "phase", 3) == want
    finally:
        await gen.aclose()
    replay = Watcher("/pods", None, SelectionPredicate.from_query(None, "status.phase=Running"))
    assert await watch_lines(hub, replay, start, "phase", 3, "Pod") == want


async def test_node_watchers_see_a_binding_as_added_and_unscheduled_as_deleted(
    store: Store,
) -> None:
    """The exact ``spec.nodeName`` watchers are indexed by node: a pod moving from "" to a
    node is ADDED for that node's watch and DELETED for the watch of unscheduled pods."""
    hub = WatchHub(store)
    start = store.committed_rv
    kubelet = Watcher("/pods", None, SelectionPredicate.from_query(None, "spec.nodeName=n1"))
    pending = Watcher("/pods", None, SelectionPredicate.from_query(None, "spec.nodeName="))
    for w in (kubelet, pending):
        hub.register(w)
    gens = [stream(hub, w, [], start, 60, False, "Pod", "v1", False) for w in (kubelet, pending)]
    try:
        r0 = await put(store, "/pods", pod("p", "Pending", node=""))
        r1 = await put(store, "/pods", pod("p", "Pending", node="n1"))
        r2 = await put(store, "/pods", pod("p", "Running", node="n1"))
        assert await read_all(gens[0], "phase", 2) == [
            ("ADDED", "p", "Pending", r1),
            ("MODIFIED", "p", "Running", r2),
        ]
        assert await read_all(gens[1], "phase", 2) == [
            ("ADDED", "p", "Pending", r0),
            ("DELETED", "p", "Pending", r1),
        ]
    finally:
        for g in gens:
            await g.aclose()


async def test_http_watch_with_a_label_selector_sees_the_transitions(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    r = await api.client.get(CONFIGMAPS)
    rv = r.json()["metadata"]["resourceVersion"]
    await api.create(CONFIGMAPS, configmap("web"))
    for patch in ({"app": "web"}, {"v": "2"}, {"app": None}):
        r = await api.client.patch(
            f"{CONFIGMAPS}/web", json={"metadata": {"labels": patch}}, headers=MERGE
        )
        assert r.status_code == 200, r.text
    r = await api.client.get(
        CONFIGMAPS,
        params={
            "watch": "true",
            "resourceVersion": rv,
            "labelSelector": "app=web",
            "timeoutSeconds": "1",
        },
    )
    assert r.status_code == 200, r.text
    assert [(t, n, labels) for t, n, labels, _ in parse(r.content, "labels")] == [
        ("ADDED", "web", {"app": "web"}),
        ("MODIFIED", "web", {"app": "web", "v": "2"}),
        ("DELETED", "web", {"app": "web", "v": "2"}),
    ]
