"""The reflector (client/reflector.py) and its loop (AsyncClient.list_and_watch) against a
scripted list/watch source: 410 relists, a drop resumes from the last resourceVersion,
BOOKMARKs move it, failures back off growing and start over once events flow, errors a
caller must see propagate, and ``stopped`` ends the loop cleanly."""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncGenerator, Callable, Iterator
from typing import Any

import pytest

from api.errors import ApiError
from client.aio import AsyncClient
from client.backoff import Backoff
from client.core import ServerUnreachable
from client.reflector import Listing, Reflector
from client.sync import Client

Obj = dict[str, Any]
Step = Obj | BaseException  # a listing or an error, for list_all; an event or error for watch


class ScriptEnded(BaseException):
    """The loop asked for more than the script holds (a BaseException, so that no retry
    rule can swallow it and a wrong loop fails at once instead of spinning)."""


def next_step(steps: list[Any], what: str) -> Any:
    if not steps:
        raise ScriptEnded(f"the loop asked for one {what} more than scripted")
    return steps.pop(0)


def pod(name: str, rv: int) -> Obj:
    return {"metadata": {"name": name, "namespace": "default", "resourceVersion": str(rv)}}


def listing(rv: int, *items: Obj) -> Obj:
    return {"kind": "PodList", "metadata": {"resourceVersion": str(rv)}, "items": list(items)}


def ev(etype: str, obj: Obj) -> Obj:
    return {"type": etype, "object": obj}


def bookmark(rv: int) -> Obj:
    return ev("BOOKMARK", {"metadata": {"resourceVersion": str(rv)}})


class Scripted(AsyncClient):
    """An AsyncClient whose list_all and watch play a script instead of HTTP. Each watch
    stream is a list of events, optionally ending in an exception; ``calls`` records
    what the loop asked for."""

    def __init__(self, lists: list[Step], streams: list[list[Step]]) -> None:
        super().__init__("http://127.0.0.1:1")
        self.lists = lists
        self.streams = streams
        self.calls: list[tuple[str, str | None]] = []

    async def list_all(self, resource: Any, namespace: Any = None, **kw: Any) -> Obj:
        self.calls.append(("list", None))
        step = next_step(self.lists, "list")
        if isinstance(step, BaseException):
            raise step
        return step

    async def watch(  # type: ignore[override]
        self, resource: Any, namespace: Any = None, *, resource_version: str | None, **kw: Any
    ) -> AsyncGenerator[Obj, None]:
        self.calls.append(("watch", resource_version))
        for step in next_step(self.streams, "watch"):
            if isinstance(step, BaseException):
                raise step
            yield step


@pytest.fixture
def slept(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The loop's waits, recorded instead of slept."""
    waits: list[float] = []

    async def sleep(delay: float) -> None:
        waits.append(round(delay, 6))

    monkeypatch.setattr("client.aio.asyncio", types.SimpleNamespace(sleep=sleep))
    return waits


def run(client: Scripted, reflector: Reflector, until: Callable[[list[Any]], bool]) -> list[Any]:
    """Follow the loop until ``until(items so far)``, then stop it through ``stopped``."""
    items: list[Any] = []

    async def main() -> None:
        try:
            async for item in client.list_and_watch(
                "pods", reflector=reflector, stopped=lambda: until(items)
            ):
                items.append(item.body if isinstance(item, Listing) else item)
        finally:
            await client.close()

    asyncio.run(asyncio.wait_for(main(), 10))
    return items


def no_jitter(**kw: Any) -> Reflector:
    kw.setdefault("backoff", Backoff(0.1, cap=0.8))
    kw.setdefault("clock", lambda: 0.0)  # every watch "ends at once"
    return Reflector("pods", **kw)


def test_410_relists_and_watches_from_the_new_list(slept: list[float]) -> None:
    first, second = listing(10, pod("a", 9)), listing(20, pod("b", 19))
    c = Scripted(
        [first, second],
        [[ev("ADDED", pod("c", 11)), ApiError(410, "too old", "Expired")]],
    )
    r = no_jitter(persistent=True)
    items = run(c, r, lambda items: len(items) == 3)
    assert items == [first, ev("ADDED", pod("c", 11)), second]
    assert c.calls == [("list", None), ("watch", "10"), ("list", None)]
    assert r.relists == 1 and r.last_rv == "20" and slept == []  # a relist does not wait


def test_a_drop_resumes_from_the_last_rv_without_listing(slept: list[float]) -> None:
    c = Scripted(
        [listing(10)],
        [
            [ev("ADDED", pod("a", 11)), ev("MODIFIED", pod("a", 12)), ServerUnreachable("s", "x")],
            [ev("ADDED", pod("b", 13))],
        ],
    )
    r = no_jitter()
    items = run(c, r, lambda items: len(items) == 4)
    assert [i.get("type") for i in items] == [None, "ADDED", "MODIFIED", "ADDED"]
    assert c.calls == [("list", None), ("watch", "10"), ("watch", "12")]
    assert r.relists == 0 and slept == [0.1]


def test_a_bookmark_moves_the_resume_point_and_counts_as_traffic(slept: list[float]) -> None:
    c = Scripted([], [[bookmark(50)], [bookmark(60)], [bookmark(70)]])
    r = no_jitter(resource_version="40")  # an explicit start: no list
    items = run(c, r, lambda items: len(items) == 3)
    assert items == [bookmark(50), bookmark(60), bookmark(70)] and r.last_rv == "70"
    assert c.calls == [("watch", "40"), ("watch", "50"), ("watch", "60")]
    assert slept == []  # streams that carried a bookmark are no failure


def test_failures_back_off_growing_then_start_over_once_events_flow(slept: list[float]) -> None:
    down = ServerUnreachable("s", "refused")
    c = Scripted(
        [listing(10)],
        [[down], [down], [down], [down], [down], [ev("ADDED", pod("a", 11)), down], [down]],
    )
    r = no_jitter()
    run(c, r, lambda items: len(c.calls) == 8 and not c.streams)
    assert slept == [0.1, 0.2, 0.4, 0.8, 0.8, 0.1, 0.2]  # capped, then reset by an event
    assert [rv for _, rv in c.calls[1:]] == ["10"] * 6 + ["11"]


def test_a_stream_ending_at_once_empty_backs_off_but_a_long_quiet_one_does_not(
    slept: list[float],
) -> None:
    now = [0.0]
    c = Scripted([listing(10)], [[], [], []])
    r = Reflector("pods", backoff=Backoff(0.1, cap=1.0), clock=lambda: now[0])
    run(c, r, lambda items: len(c.calls) == 3)
    assert slept == [0.1, 0.2]

    quiet = Reflector("pods", backoff=Backoff(0.1), clock=lambda: now[0], resource_version="5")
    quiet.watch_params()
    now[0] += 30  # the server's timeout: a stream can be quiet for this long
    assert quiet.watch_ended() == 0.0 and quiet.failures == 0


def test_a_watch_helper_raises_what_it_must_not_hide() -> None:
    # Only an unreachable server is retried for a caller of watch_forever: a 403 is theirs,
    # and so is a failing list.
    c = Scripted([listing(10)], [[ApiError(403, "forbidden", "Forbidden")]])
    with pytest.raises(ApiError, match="forbidden"):
        run(c, no_jitter(), lambda items: False)
    c = Scripted([ServerUnreachable("s", "refused")], [])
    with pytest.raises(ServerUnreachable):
        run(c, no_jitter(), lambda items: False)


def test_a_persistent_reflector_retries_everything_and_relists_after_the_unexpected(
    slept: list[float],
) -> None:
    c = Scripted(
        [ServerUnreachable("s", "refused"), listing(10), listing(30)],
        [[ApiError(500, "boom")], [ValueError("malformed")], [ev("ADDED", pod("a", 31))]],
    )
    r = no_jitter(persistent=True)
    items = run(c, r, lambda items: len(items) == 3)
    assert c.calls == [
        ("list", None),  # refused: back off, list again
        ("list", None),
        ("watch", "10"),  # a 500: back off, resume
        ("watch", "10"),  # something unexpected: back off and list again
        ("list", None),
        ("watch", "30"),
    ]
    assert slept == [0.1, 0.2, 0.4] and items[-1] == ev("ADDED", pod("a", 31))


def test_stopped_ends_the_loop_cleanly_between_events() -> None:
    c = Scripted([listing(10)], [[ev("ADDED", pod("a", 11)), ev("ADDED", pod("b", 12))]])
    items = run(c, no_jitter(), lambda items: len(items) == 2)
    assert len(items) == 2  # stopped right after the first event; the second is not taken


def test_watch_timeouts_are_spread_only_when_asked() -> None:
    r = Reflector("pods", watch_timeout=300, spread_timeout=True, rand=lambda: 0.5)
    assert r.watch_params() == (None, 450)
    assert Reflector("pods", "7", watch_timeout=300).watch_params() == ("7", 300)
    assert Reflector("pods", watch_timeout=None, spread_timeout=True).watch_params()[1] is None


# -- the generated blocking loop (client/sync.py) -----------------------------------------


class ScriptedSync(Client):
    """The blocking twin of ``Scripted``: the same script through Client.list_and_watch."""

    def __init__(self, lists: list[Step], streams: list[list[Step]]) -> None:
        super().__init__("http://127.0.0.1:1")
        self.lists = lists
        self.streams = streams
        self.calls: list[tuple[str, str | None]] = []

    def list_all(self, resource: Any, namespace: Any = None, **kw: Any) -> Obj:
        self.calls.append(("list", None))
        step = next_step(self.lists, "list")
        if isinstance(step, BaseException):
            raise step
        return step

    def watch(  # type: ignore[override]
        self, resource: Any, namespace: Any = None, *, resource_version: str | None, **kw: Any
    ) -> Iterator[Obj]:
        self.calls.append(("watch", resource_version))
        for step in next_step(self.streams, "watch"):
            if isinstance(step, BaseException):
                raise step
            yield step


def test_the_blocking_client_runs_the_same_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr("client.sync.time", types.SimpleNamespace(sleep=waits.append))
    c = ScriptedSync(
        [listing(10), listing(20)],
        [
            [ev("ADDED", pod("a", 11)), ServerUnreachable("s", "dropped")],
            [bookmark(15), ApiError(410, "too old", "Expired")],
            [ev("ADDED", pod("b", 21))],
        ],
    )
    r = no_jitter()
    items: list[Any] = []
    with c:
        for item in c.list_and_watch("pods", reflector=r, stopped=lambda: len(items) == 5):
            items.append(item.body if isinstance(item, Listing) else item)
    assert c.calls == [
        ("list", None),
        ("watch", "10"),
        ("watch", "11"),
        ("list", None),
        ("watch", "20"),
    ]
    assert items[-1] == ev("ADDED", pod("b", 21)) and r.relists == 1 and waits == [0.1]


def test_a_deadline_caps_each_watch_and_stops_the_loop() -> None:
    now = [100.0]
    r = Reflector("deployment web", "7", watch_timeout=60, deadline=130.5, clock=lambda: now[0])
    assert r.watch_params() == ("7", 31) and not r.expired()
    now[0] = 130.2
    assert r.watch_params() == ("7", 1)  # never a zero timeout (that would not end at all)
    now[0] = 130.5
    assert r.expired()
    assert not Reflector("pods").expired()
