"""The event writer: create-or-patch on the API, retries, and never a block or an error
for the component that records (a full queue drops and counts)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from api.errors import ApiError
from client.core import ServerUnreachable
from client.events import EventRecorder

Obj = dict[str, Any]


def pod(name: str = "web") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"}}


class Sink:
    """Events by name, as the API keeps them; ``failures`` are raised by the next calls."""

    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.events: dict[str, Obj] = {}
        self.calls: list[tuple[str, str, int]] = []  # (verb, name, count sent)
        self.failures = failures or []

    def _fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    async def create(self, resource: str, body: Obj, namespace: str | None = None) -> Obj:
        name = body["metadata"]["name"]
        self.calls.append(("create", name, body["count"]))
        self._fail()
        if name in self.events:
            raise ApiError(409, f"events {name} already exists")
        self.events[name] = dict(body)
        return body

    async def patch(
        self, resource: str, name: str, patch: Obj, namespace: str | None = None
    ) -> Obj:
        self.calls.append(("patch", name, patch["count"]))
        self._fail()
        if name not in self.events:
            raise ApiError(404, f"events {name} not found")
        self.events[name].update(patch)
        return self.events[name]


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(body())  # type: ignore[arg-type]


def recorder(sink: Sink, **kw: Any) -> EventRecorder:
    return EventRecorder(sink, "kubelet", "node-1", host="node-1", retry_delay=0, **kw)


def test_a_repeat_after_the_first_was_written_patches_that_event() -> None:
    async def go() -> Sink:
        sink = Sink()
        rec = recorder(sink)
        rec.start()
        rec.record(pod(), "Warning", "BackOff", "Back-off restarting", "spec.containers{a}")
        await rec.flush()
        rec.record(pod(), "Warning", "BackOff", "Back-off restarting", "spec.containers{a}")
        await rec.stop()
        return sink

    sink = run(go)
    ((name, ev),) = sink.events.items()
    assert [verb for verb, _, _ in sink.calls] == ["create", "patch"]
    assert sink.calls[1] == ("patch", name, 2) and ev["count"] == 2
    assert ev["involvedObject"]["fieldPath"] == "spec.containers{a}"


def test_repeats_queued_together_are_one_create_with_the_count() -> None:
    async def go() -> tuple[Sink, EventRecorder]:
        sink = Sink()
        rec = recorder(sink)
        rec.start()
        for _ in range(5):
            rec.record(pod(), "Normal", "Pulled", "already present")
        await rec.stop()
        return sink, rec

    sink, rec = run(go)
    assert [(verb, count) for verb, _, count in sink.calls] == [("create", 5)]
    assert rec.written == 1 and rec.dropped == 0


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    async def go() -> EventRecorder:
        rec = recorder(Sink(), queue_size=2)  # no writer running: the queue only fills
        for i in range(5):
            rec.record(pod(f"p{i}"), "Normal", "Started", "started")
        return rec

    rec = run(go)
    assert rec.queue.qsize() == 2 and rec.dropped == 3


def test_api_errors_never_reach_the_caller_and_later_events_still_go() -> None:
    async def go() -> tuple[Sink, EventRecorder]:
        refused = ApiError(422, "Event is invalid")
        sink = Sink(failures=[refused] + [ServerUnreachable("https://x", "refused")] * 3)
        rec = recorder(sink, tries=3)
        rec.start()
        rec.record(pod("a"), "Normal", "R", "refused: not retried")
        await rec.flush()
        rec.record(pod("b"), "Normal", "R", "unreachable: retried, then given up")
        await rec.flush()
        rec.record(pod("c"), "Normal", "R", "written")
        rec.record({"metadata": "not a dict"}, "Normal", "R", "malformed")  # dropped, no raise
        await rec.stop()
        return sink, rec

    sink, rec = run(go)
    assert [(verb, name.split(".")[0]) for verb, name, _ in sink.calls] == [
        ("create", "a"),
        ("create", "b"),
        ("create", "b"),
        ("create", "b"),
        ("create", "c"),
    ]
    assert [e["involvedObject"]["name"] for e in sink.events.values()] == ["c"]
    assert (rec.failed, rec.written, rec.dropped) == (2, 1, 1)


def test_a_transient_failure_is_retried_until_written() -> None:
    async def go() -> tuple[Sink, EventRecorder]:
        sink = Sink(failures=[ApiError(503, "busy"), ApiError(429, "slow down")])
        rec = recorder(sink, tries=3)
        rec.start()
        rec.record(pod(), "Normal", "R", "m")
        await rec.stop()
        return sink, rec

    sink, rec = run(go)
    assert [verb for verb, _, _ in sink.calls] == ["create"] * 3
    assert len(sink.events) == 1 and (rec.written, rec.failed) == (1, 0)


def test_create_or_patch_when_the_api_disagrees_with_the_cache() -> None:
    async def go() -> Sink:
        sink = Sink()
        rec = recorder(sink)
        rec.start()
        rec.record(pod(), "Normal", "R", "m")
        await rec.flush()
        sink.events.clear()  # the Event expired (TTL) on the server
        rec.record(pod(), "Normal", "R", "m")
        await rec.flush()
        # A create whose answer was lost landed after all: the retry patches it.
        sink.failures = [ServerUnreachable("https://x", "reset")]
        real_create = sink.create

        async def create_then_lose_answer(resource: str, body: Obj, namespace: str | None = None):
            sink.events[body["metadata"]["name"]] = dict(body)
            return await real_create(resource, body, namespace)

        sink.create = create_then_lose_answer  # type: ignore[method-assign]
        rec.record(pod("c"), "Normal", "R", "m")
        await rec.stop()
        return sink

    sink = run(go)
    verbs = [verb for verb, _, _ in sink.calls]
    # expired: patch (404), then create with the whole count; lost answer: create, create
    # (409), patch.
    assert verbs == ["create", "patch", "create", "create", "create", "patch"]
    counts = {e["involvedObject"]["name"]: e["count"] for e in sink.events.values()}
    assert counts == {"web": 2, "c": 1}


def test_stop_without_start_and_twice_is_harmless() -> None:
    async def go() -> None:
        rec = recorder(Sink())
        await rec.stop()
        rec.start()
        rec.start()
        await rec.stop()
        await rec.stop()

    run(go)
