"""Slow start, expectations, leader-election decisions, controller selection, events."""

from __future__ import annotations

import asyncio

import pytest

from client.events import EventRecorder
from client.leader import may_take
from controllers.expectations import Expectations
from controllers.manager import select
from controllers.replicaset import run_slow_start


def test_slow_start_stops_after_the_first_failing_batch() -> None:
    calls = 0

    async def failing() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("quota exceeded")

    made, errors = asyncio.run(run_slow_start(100, failing))
    assert made == calls == 1 and len(errors) == 1

    state = {"n": 0, "in_flight": 0, "peak": 0}

    async def flaky() -> None:
        state["n"] += 1
        mine = state["n"]
        state["in_flight"] += 1
        state["peak"] = max(state["peak"], state["in_flight"])
        await asyncio.sleep(0)  # a creation in flight: lets the others overlap it
        state["in_flight"] -= 1
        if mine == 5:  # in the third batch (1, 2, 4)
            raise RuntimeError("boom")

    made, errors = asyncio.run(run_slow_start(100, flaky, concurrency=2))
    assert made == 7 and len(errors) == 1 and state["peak"] == 2


def test_expectations_block_until_observed_and_count_deletes_once() -> None:
    now = [0.0]
    e = Expectations(clock=lambda: now[0], ttl=300)
    assert e.satisfied("ns/rs")
    e.expect("ns/rs", adds=2, deletes=["ns/a"])
    e.creation_observed("ns/rs")
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    e.deletion_observed("ns/rs", "ns/b")  # not one we deleted
    assert not e.satisfied("ns/rs")
    e.deletion_observed("ns/rs", "ns/a")
    e.deletion_observed("ns/rs", "ns/a")  # the update and the delete event of the same pod
    assert e.satisfied("ns/rs")
    e.expect("ns/rs", adds=1)
    now[0] = 301
    assert e.satisfied("ns/rs")  # a missed event does not block forever


def test_leader_may_take_only_free_own_or_expired_leases() -> None:
    assert may_take("", "me", 100, 15, 101)
    assert may_take("me", "me", 100, 15, 101)
    assert not may_take("other", "me", 100, 15, 114.9)
    assert may_take("other", "me", 100, 15, 115)


def test_controller_selection() -> None:
    assert "garbagecollector" in select(())
    assert select(("*", "-job")) == [n for n in select(()) if n != "job"]
    assert select(("replicaset",)) == ["replicaset"]
    with pytest.raises(ValueError, match="unknown controllers"):
        select(("replicasets",))


def test_event_recorder_aggregates_similar_messages() -> None:
    async def run() -> list[tuple[str, str]]:
        r = EventRecorder(None, "kubelab-controller-manager")  # type: ignore[arg-type]
        obj = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": "rs", "namespace": "d", "uid": "u"},
        }
        for i in range(15):
            r.record(obj, "Normal", "SuccessfulCreate", f"Created pod: rs-{i}")
        out = []
        while not r.queue.empty():
            write = r.queue.get_nowait()
            out.append((write.key[-1], write.event["message"]))
        return out

    out = asyncio.run(run())
    assert len(out) == 15
    assert all(not m.startswith("(combined") for _, m in out[:10])
    assert all(
        k == "combined" and m.startswith("(combined from similar events)") for k, m in out[10:]
    )
