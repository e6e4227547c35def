"""The asyncio work queue (client/workqueue.py): dedup, per-key exclusivity, delays,
backoff and shutdown. Checks order and state, never wall-clock speed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from client import QueueShutDown, WorkQueue
from client.workqueue import TokenBucket
from tests.wait import wait_for_async


def run(fn: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), 10))


def test_add_dedups_queued_keys() -> None:
    async def main() -> list[str]:
        q = WorkQueue()
        for k in ["a", "b", "a", "c", "b", "a"]:
            q.add(k)
        assert len(q) == 3
        got = [await q.get() for _ in range(3)]
        assert len(q) == 0
        return got

    assert run(main) == ["a", "b", "c"]


def test_key_in_processing_is_not_handed_out_again_until_done() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add("a")
        key = await q.get()
        assert key == "a" and q.processing == {"a"}
        q.add("a")  # changed again while a worker holds it
        q.add("a")
        assert len(q) == 0  # held back, not queued twice
        second = asyncio.create_task(q.get())
        await asyncio.sleep(0.01)  # to prove the second getter stays blocked meanwhile
        assert not second.done()  # nobody else gets "a" while it is processing
        q.done("a")
        assert await second == "a"  # re-queued exactly once after done
        q.done("a")
        assert len(q) == 0

    run(main)


def test_concurrent_workers_never_process_one_key_at_once() -> None:
    async def main() -> tuple[int, int]:
        q = WorkQueue()
        active: set[str] = set()
        overlaps = 0
        processed = 0

        async def worker() -> None:
            nonlocal overlaps, processed
            while True:
                try:
                    key = await q.get()
                except QueueShutDown:
                    return
                if key in active:
                    overlaps += 1
                active.add(key)
                await asyncio.sleep(0)  # yield so others could grab the same key
                if processed < 200:
                    q.add(key)  # re-added while processing, as informers do
                processed += 1
                await asyncio.sleep(0)  # and again before done: a window for a double hand-out
                active.discard(key)
                q.done(key)

        workers = [asyncio.create_task(worker()) for _ in range(8)]
        for i in range(20):
            q.add(f"k{i % 4}")
        await wait_for_async(lambda: processed >= 200, "200 keys processed", 10, interval=0.001)
        q.shutdown()
        await asyncio.gather(*workers)
        return overlaps, processed

    overlaps, processed = run(main)
    assert processed >= 200
    assert overlaps == 0


def test_add_after_orders_by_ready_time_and_earlier_wins() -> None:
    async def main() -> list[str]:
        q = WorkQueue()
        q.add_after("late", 0.06)
        q.add_after("early", 0.02)
        q.add_after("mid", 0.04)
        q.add_after("late", 0.01)  # an earlier time for a waiting key replaces the later
        q.add_after("early", 0.5)  # a later time for a waiting key is ignored
        assert q.waiting == 3 and len(q) == 0
        got = [await q.get() for _ in range(3)]
        assert q.waiting == 0
        return got

    assert run(main) == ["late", "early", "mid"]


def test_add_after_zero_is_immediate() -> None:
    async def main() -> None:
        q = WorkQueue()
        q.add_after("now", 0)
        assert len(q) == 1 and q.waiting == 0

    run(main)


def test_rate_limited_backoff_doubles_caps_and_forget_resets() -> None:
    async def main() -> None:
        q = WorkQueue(base_delay=0.001, max_delay=0.004, qps=None)
        delays = []
        for _ in range(5):
            delays.append(q.when("k"))
            q.add_rate_limited("k")
            assert await q.get() == "k"
            q.done("k")
        assert delays == [0.001, 0.002, 0.004, 0.004, 0.004]
        assert q.num_requeues("k") == 5
        assert q.when("other") == 0.001  # per key
        q.forget("k")
        assert q.num_requeues("k") == 0 and q.when("k") == 0.001

    run(main)


def test_token_bucket_allows_burst_then_spaces_by_qps() -> None:
    bucket = TokenBucket(qps=10.0, burst=3)
    delays = [bucket.reserve() for _ in range(5)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    # The 4th and 5th reservations wait about 1/qps and 2/qps (minus tiny refill).
    assert 0.05 < delays[3] <= 0.1
    assert 0.15 < delays[4] <= 0.2


def test_bucket_delay_applies_to_rate_limited_adds() -> None:
    async def main() -> None:
        q = WorkQueue(base_delay=0.0001, qps=1.0, burst=1)
        q.add_rate_limited("a")  # uses the one token: no extra delay
        q.add_rate_limited("b")  # must wait ~1 s for a token
        assert await q.get() == "a"
        assert q.waiting == 1  # "b" is still held back by the bucket
        q.shutdown()

    run(main)


def test_shutdown_wakes_waiters_and_ignores_later_adds() -> None:
    async def main() -> None:
        q = WorkQueue()
        waiters = [asyncio.create_task(q.get()) for _ in range(3)]
        q.add_after("later", 5)
        await asyncio.sleep(0.01)  # the getters block first: shutdown must wake them
        q.shutdown()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, QueueShutDown) for r in results)
        assert q.waiting == 0 and q.shutting_down
        q.add("x")
        assert len(q) == 0
        with pytest.raises(QueueShutDown):
            await q.get()

    run(main)


def test_cancelled_getter_does_not_strand_a_key() -> None:
    async def main() -> None:
        q = WorkQueue()
        first = asyncio.create_task(q.get())
        second = asyncio.create_task(q.get())
        await asyncio.sleep(0)  # one turn of the loop: both getters are waiting
        q.add("a")  # wakes `first`...
        first.cancel()  # ...which is cancelled before it runs
        assert await second == "a"

    run(main)
