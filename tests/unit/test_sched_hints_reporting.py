"""Unschedulable reporting without one write per attempt: a repeat is not written, a
change to a pod already reported is held and only the latest is written, a pod bound
meanwhile costs nothing; and ``kl why`` reads the latest attempt's reasons."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from kubectl.cmd.why import explain_pending
from scheduler.podinfo import REASONS_ANNOTATION
from scheduler.report_hold import Report, ReportHold
from scheduler.reporting import Reporter, event_recorder
from tests.unit.sched_world import pod

Obj = dict[str, Any]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _report(key: str, summary: str) -> Report:
    return Report(key, {}, summary, json.dumps({"summary": summary}))


def test_hold_writes_once_for_repeats_and_again_when_reasons_change() -> None:
    clock = Clock()
    hold = ReportHold(1.0, clock)
    assert hold.offer(_report("p", "0/1 a"), reported_before=False) is True  # first: now
    assert hold.offer(_report("p", "0/1 a"), reported_before=True) is False  # repeat
    assert hold.due() == [] and hold.held() == 0
    assert hold.offer(_report("p", "0/2 b"), reported_before=True) is False  # held
    clock.now += 0.5
    assert hold.offer(_report("p", "0/3 c"), reported_before=True) is False  # replaces
    assert hold.due() == []
    clock.now += 0.5
    assert [r.summary for r in hold.due()] == ["0/3 c"]  # the latest, once
    assert hold.offer(_report("p", "0/3 c"), reported_before=True) is False
    assert hold.held() == 0


def test_a_held_change_that_reverts_or_a_bound_pod_writes_nothing() -> None:
    clock = Clock()
    hold = ReportHold(1.0, clock)
    hold.offer(_report("p", "a"), reported_before=False)
    hold.offer(_report("p", "b"), reported_before=True)
    hold.offer(_report("p", "a"), reported_before=True)  # back to what was written
    hold.offer(_report("q", "x"), reported_before=True)  # reported by an earlier scheduler
    hold.forget("q")  # bound
    clock.now += 5
    assert hold.due() == []


class FakeApi:
    """One pod and its events; patches applied as the API merges them."""

    def __init__(self, p: Obj) -> None:
        self.pod = p
        self.events: dict[str, Obj] = {}
        self.pod_writes: list[str] = []

    async def create(self, resource: str, body: Obj, namespace: str | None = None) -> Any:
        self.events[body["metadata"]["name"]] = body
        return body

    async def patch(
        self,
        resource: str,
        name: str,
        patch: Obj,
        namespace: str | None = None,
        subresource: str | None = None,
    ) -> Any:
        if resource == "events":
            self.events[name].update(patch)
            return self.events[name]
        self.pod_writes.append(subresource or "pod")
        if subresource == "status":
            self.pod["status"].update(patch["status"])
        else:
            anns = self.pod["metadata"].setdefault("annotations", {})
            for k, v in patch["metadata"]["annotations"].items():
                if v is None:
                    anns.pop(k, None)
                else:
                    anns[k] = v
        return self.pod


def test_reporter_writes_the_first_report_at_once_and_only_the_latest_change() -> None:
    clock = Clock()
    api = FakeApi(pod("waiter"))

    def doc(summary: str, reason: str) -> Obj:
        return {"summary": summary, "nodes": {"box-1": [reason]}}

    async def go() -> None:
        events = event_recorder(api)
        events.start()
        rep = Reporter(api, events, hold=1.0, clock=clock)  # type: ignore[arg-type]
        held = asyncio.create_task(rep.run_held())
        first = "0/1 nodes are available: 1 Insufficient cpu."
        write = rep.report("default/waiter", copy.deepcopy(api.pod), first, doc(first, "cpu"))
        assert write is not None
        await write
        assert api.pod_writes == ["pod", "status"]
        # The same reasons again (the cache now shows them): nothing is written.
        assert (
            rep.report("default/waiter", copy.deepcopy(api.pod), first, doc(first, "cpu")) is None
        )
        # Two changes within the hold: neither is written yet...
        for n in (2, 3):
            s = f"0/{n} nodes are available: {n} Insufficient cpu."
            assert (
                rep.report("default/waiter", copy.deepcopy(api.pod), s, doc(s, f"cpu {n}")) is None
            )
        await asyncio.sleep(0.05)
        assert api.pod_writes == ["pod", "status"]
        # ... then the latest is, once.
        clock.now += 1.0
        rep._wake.set()
        for _ in range(100):
            if len(api.pod_writes) == 4:
                break
            await asyncio.sleep(0.01)
        assert api.pod_writes == ["pod", "status", "pod", "status"]
        held.cancel()
        await events.stop()

    asyncio.run(go())
    latest = "0/3 nodes are available: 3 Insufficient cpu."
    assert '"cpu 3"' in api.pod["metadata"]["annotations"][REASONS_ANNOTATION]
    lines = explain_pending(api.pod, list(api.events.values()))
    assert f"scheduler: {latest}" in lines
    assert "  box-1: cpu 3" in lines
    # One FailedScheduling per write (two), not per attempt (four); the latest among them.
    # (Which one kl why calls the last goes by lastTimestamp, whole seconds: a real hold
    # of 1 s always puts the held write in a later second than the one before.)
    assert any(x.startswith("events: FailedScheduling x2,") for x in lines)
    assert latest in [e["message"] for e in api.events.values()]


def test_a_held_report_is_not_written_about_a_pod_no_longer_parked() -> None:
    clock = Clock()
    api = FakeApi(pod("waiter"))
    api.pod["metadata"]["annotations"] = {REASONS_ANNOTATION: "{}"}

    async def go() -> None:
        rep = Reporter(api, event_recorder(api), hold=1.0, clock=clock)  # type: ignore[arg-type]
        rep.still_parked = lambda key: False  # being tried again, or binding
        held = asyncio.create_task(rep.run_held())
        assert rep.report("default/waiter", copy.deepcopy(api.pod), "s", {"summary": "s"}) is None
        clock.now += 2
        rep._wake.set()
        await asyncio.sleep(0.05)
        held.cancel()

    asyncio.run(go())
    assert api.pod_writes == []


def test_without_a_hold_every_attempt_is_written_as_before() -> None:
    api = FakeApi(pod("waiter"))

    async def go() -> None:
        rep = Reporter(api, event_recorder(api), hold=0)  # type: ignore[arg-type]
        for n in (1, 2):
            s = f"0/{n} nodes are available."
            write = rep.report("default/waiter", copy.deepcopy(api.pod), s, {"summary": s})
            assert write is not None
            await write

    asyncio.run(go())
    assert api.pod_writes == ["pod", "status", "pod", "status"]


def test_bound_pods_reasons_are_cleared_once_the_scheduler_is_idle() -> None:
    api = FakeApi(pod("done"))
    api.pod["metadata"]["annotations"] = {REASONS_ANNOTATION: "{}"}
    busy = [True]

    async def go() -> None:
        rep = Reporter(api, event_recorder(api), hold=1.0)  # type: ignore[arg-type]
        clears = asyncio.create_task(rep.run_clears(lambda: busy[0], poll=0.01, quiet=0.02))
        rep.clear_later("default/done", api.pod)
        await asyncio.sleep(0.05)
        assert api.pod_writes == []  # a backlog drains: the Bindings go first
        busy[0] = False
        for _ in range(100):
            if api.pod_writes:
                break
            await asyncio.sleep(0.01)
        clears.cancel()

    asyncio.run(go())
    assert api.pod_writes == ["pod"]
    assert REASONS_ANNOTATION not in api.pod["metadata"]["annotations"]
