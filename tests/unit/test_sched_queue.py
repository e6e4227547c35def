"""The scheduling queue: order, backoff, unschedulable pool and moves."""

from __future__ import annotations

import asyncio

from scheduler.queue import SchedulingQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _drain(q: SchedulingQueue) -> list[str]:
    out = []
    while (k := q.pop_nowait()) is not None:
        out.append(k)
    return out


def test_priority_then_age() -> None:
    q = SchedulingQueue(clock=Clock())
    q.add("old-low", 0, "2024-01-01T00:00:00Z")
    q.add("new-high", 10, "2024-01-01T00:00:05Z")
    q.add("new-low", 0, "2024-01-01T00:00:03Z")
    q.add("old-high", 10, "2024-01-01T00:00:01Z")
    assert _drain(q) == ["old-high", "new-high", "old-low", "new-low"]


def test_adding_twice_queues_once() -> None:
    q = SchedulingQueue(clock=Clock())
    q.add("a")
    q.add("a")
    assert _drain(q) == ["a"]
    q.add("a")  # in flight: not queued again
    assert _drain(q) == []


def test_backoff_doubles_up_to_the_cap() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add("a")
    waits = []
    for _ in range(6):
        assert q.pop_nowait() == "a"
        q.requeue_backoff("a")
        waits.append(q.next_ready_in())
        assert q.pop_nowait() is None
        clock.now += waits[-1]  # type: ignore[operator]
    assert waits == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_unschedulable_waits_for_a_cluster_event() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add("a")
    assert q.pop_nowait() == "a"
    q.requeue_unschedulable("a")
    clock.now += 5
    assert q.pop_nowait() is None  # backoff is over but nothing changed
    assert q.move_all_to_active() == 1
    assert q.pop_nowait() == "a"


def test_event_during_backoff_goes_through_backoff() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add("a")
    q.pop_nowait()
    q.requeue_unschedulable("a")
    q.move_all_to_active()
    assert q.where("a") == "backoff"
    assert q.pop_nowait() is None
    clock.now += 1.0
    assert q.pop_nowait() == "a"


def test_event_while_in_flight_is_not_lost() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock)
    q.add("a")
    q.pop_nowait()
    q.move_all_to_active()  # a node was added while "a" was being scheduled
    q.requeue_unschedulable("a")
    assert q.where("a") == "backoff"


def test_unschedulable_timeout_retries_anyway() -> None:
    clock = Clock()
    q = SchedulingQueue(clock=clock, unschedulable_timeout=60)
    q.add("a")
    q.pop_nowait()
    q.requeue_unschedulable("a")
    clock.now += 59
    assert q.pop_nowait() is None
    clock.now += 1
    assert q.pop_nowait() == "a"


def test_delete_removes_everywhere() -> None:
    q = SchedulingQueue(clock=Clock())
    q.add("a")
    q.add("b")
    q.delete("a")
    assert _drain(q) == ["b"]
    assert q.counts() == {"active": 0, "backoff": 0, "unschedulable": 0, "flight": 1}


def test_async_pop_wakes_on_add() -> None:
    async def scenario() -> str | None:
        q = SchedulingQueue()
        task = asyncio.create_task(q.pop())
        await asyncio.sleep(0.01)  # to prove pop waits while the queue is empty
        assert not task.done()
        q.add("a")
        return await asyncio.wait_for(task, 2)

    assert asyncio.run(scenario()) == "a"
