"""Table watch events: each event's row is rendered once for every watcher of the kind, in
the second it was rendered (the AGE cell); other events, kinds and seconds render anew."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.watch_tables import TableLines


def test_an_event_is_rendered_once_for_all_its_watchers() -> None:
    now = [1000.2]
    lines = TableLines(clock=lambda: now[0])
    calls: list[bytes] = []

    def render(data: bytes) -> bytes:
        calls.append(data)
        return b"line:" + data

    ev = b'{"metadata":{"name":"a","resourceVersion":"7"}}'
    got = [lines.line("/pods", "MODIFIED", ev, lambda: render(ev)) for _ in range(100)]
    assert got == [b"line:" + ev] * 100 and len(calls) == 1
    assert (lines.hits, lines.misses) == (99, 1)
    lines.line("/pods", "DELETED", ev, lambda: render(ev))  # another event type
    lines.line("/nodes", "MODIFIED", ev, lambda: render(ev))  # another kind
    now[0] = 1001.0  # the next second: AGE may read differently
    lines.line("/pods", "MODIFIED", ev, lambda: render(ev))
    assert len(calls) == 4


def test_the_oldest_events_are_dropped_past_the_size() -> None:
    lines = TableLines(size=2, clock=lambda: 5.0)
    n = [0]

    def render() -> bytes:
        n[0] += 1
        return b"x"

    for data in (b"1", b"2", b"3"):
        lines.line("/pods", "ADDED", data, render)
    lines.line("/pods", "ADDED", b"1", render)  # evicted: rendered again
    lines.line("/pods", "ADDED", b"3", render)  # kept
    assert n[0] == 4


@pytest.mark.anyio
async def test_table_watchers_get_the_same_rows_rendered_once(inprocess_api: Any) -> None:
    import json

    api = inprocess_api
    table = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    pods = "/api/v1/namespaces/default/pods"
    body = {"metadata": {"name": "w"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    rv = (await api.client.get(pods)).json()["metadata"]["resourceVersion"]
    await api.create(pods, body)
    for n in range(3):
        r = await api.client.patch(
            f"{pods}/w",
            json={"metadata": {"labels": {"n": str(n)}}},
            headers={"content-type": "application/merge-patch+json"},
        )
        assert r.status_code == 200
    lines = api.server.rest.table_lines
    before = lines.misses
    params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
    import asyncio

    async def watch() -> list[Any]:
        w = await api.client.get(pods, params=params, headers=table)
        return [json.loads(line) for line in w.text.splitlines() if line]

    got = await asyncio.gather(watch(), watch(), watch())  # at once, as live watchers are
    # The first event of each is its own (it carries the columns; its AGE is its time).
    assert got[0][0]["object"]["rows"][0]["object"] == got[2][0]["object"]["rows"][0]["object"]
    events = got[0]
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED"]
    assert events[0]["object"]["columnDefinitions"]  # a watcher's first event: the columns
    assert all(e["object"]["columnDefinitions"] == [] for e in events[1:])
    assert events[-1]["object"]["rows"][0]["object"]["metadata"]["labels"] == {"n": "2"}
    # Three watchers, three later events each: rendered once per event (same second, or
    # once more per event if the second turned meanwhile).
    assert lines.misses - before in (3, 6)
    if lines.misses - before == 3:
        assert got[0][1:] == got[1][1:] == got[2][1:]  # the very same lines
