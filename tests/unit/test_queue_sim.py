"""The ``make bench`` GPU-queue simulation (tests/bench/queue_sim.py): its measures, and that
its policies behave as the scheduler's decisions say on small hand-made weeks."""

from __future__ import annotations

import pytest

from tests.bench.queue_sim import (
    CAPACITY,
    WEEK,
    FifoWeek,
    Job,
    KubelabWeek,
    PodFifoWeek,
    fair_targets,
    jain_index,
    simulate,
)

HOUR = 3600.0


def test_jain_index_is_one_when_equal_and_one_over_n_when_one_has_all() -> None:
    assert jain_index([2.0, 2.0, 2.0]) == pytest.approx(1.0)
    assert jain_index([3.0, 0.0, 0.0]) == pytest.approx(1 / 3)
    assert jain_index([1.0, 0.5]) == pytest.approx(1.5**2 / (2 * 1.25))


def test_fair_targets_split_by_share_and_give_an_unasked_part_to_the_others() -> None:
    big = 1e12
    # Shares 4:3:3:3:3 of 16 when everybody asks for more than its part.
    even = fair_targets(1600.0, {u: big for u in ("alice", "bob", "carol", "dave", "erin")})
    assert even == pytest.approx(
        {"alice": 400.0, "bob": 300.0, "carol": 300, "dave": 300, "erin": 300}
    )
    # Erin asked for 100 only: her other 200 go to the rest by their shares (4:3:3:3).
    capped = fair_targets(
        1600.0, {"alice": big, "bob": big, "carol": big, "dave": big, "erin": 100.0}
    )
    assert capped["erin"] == pytest.approx(100.0)
    assert capped["alice"] == pytest.approx(400 + 200 * 4 / 13)
    assert capped["bob"] == pytest.approx(300 + 200 * 3 / 13)
    assert sum(capped.values()) == pytest.approx(1600.0)


def gang(key: str, user: str, at: float, members: tuple[int, ...], hours: float, k: int) -> Job:
    return Job(key, user, members, hours * HOUR, at, k)


def test_two_gangs_of_10_in_one_sweep_deadlock_pod_by_pod_but_never_in_kubelab() -> None:
    """The issue's case: two gangs of 5 x 2 GPUs (10 of 16 each) sent together."""
    jobs = [
        gang("red", "alice", 10.0, (2, 2, 2, 2, 2), 2.0, 0),
        gang("blue", "bob", 10.0, (2, 2, 2, 2, 2), 2.0, 1),
    ]
    pod_by_pod = PodFifoWeek(jobs).run()
    assert pod_by_pod.deadlocked and pod_by_pod.half_started_gangs == 2
    assert pod_by_pod.utilisation == 0.0  # 16 GPUs held, nothing runs
    for week in (KubelabWeek(jobs), FifoWeek(jobs)):
        out = week.run()
        assert not out.deadlocked and out.half_started_gangs == 0
        # One after the other: each ran its 2 hours of 10 GPUs.
        assert out.gpu_seconds["alice"] == out.gpu_seconds["bob"] == pytest.approx(10 * 2 * HOUR)
        assert sorted(out.gang_waits) == pytest.approx([0.0, 2 * HOUR])


def test_best_effort_goes_at_once_and_borrowed_work_after_the_grace_period() -> None:
    """Bob runs 14 one-GPU jobs (11 borrowed from idle shares), best effort the other 2;
    alice then sends two 2-GPU jobs, her share of 4: the best effort goes at once for the
    first, bob's newest borrowed work for the second only after the 30 s grace."""
    jobs = [Job(f"bob-{i:02d}", "bob", (1,), 10 * HOUR, 0.0) for i in range(14)]
    jobs += [Job(f"be-{i}", "carol", (1,), 10 * HOUR, 1.0, best_effort=True) for i in range(2)]
    jobs += [Job(f"alice-{i}", "alice", (2,), HOUR, HOUR) for i in (1, 2)]
    week = KubelabWeek(jobs, grace=30.0)
    started: dict[str, float] = {}
    stopped: list[str] = []
    start, stop = week.start, week.stop

    def record_start(key: str, nodes: list[str]) -> None:
        started.setdefault(key, week.now)
        start(key, nodes)

    def record_stop(key: str) -> None:
        if week.now < 10 * HOUR:
            stopped.append(key)
        stop(key)

    week.start = record_start  # type: ignore[method-assign]
    week.stop = record_stop  # type: ignore[method-assign]
    out = week.run()
    assert sorted(started[k] for k in ("alice-1", "alice-2")) == [HOUR, HOUR + 30.0]
    # Best effort first, then two of bob's borrowed pods, nothing else. Bob's oldest 3
    # (bob-00..02) are his share; bob-03 (box-0) was taken and given back, since bob-04
    # and bob-05 free 2 GPUs on box-1 by themselves.
    assert sorted(stopped[:2]) == ["be-0", "be-1"]
    assert [k for k in stopped[2:] if not k.startswith("alice")] == ["bob-04", "bob-05"]
    assert out.preemptions == 4 and not out.deadlocked


def test_a_seed_is_one_week_every_time_and_kubelab_never_deadlocks() -> None:
    a, b = simulate(7), simulate(7)
    assert a.jobs == b.jobs and a.kubelab.gpu_seconds == b.kubelab.gpu_seconds
    assert a.fifo.jain == b.fifo.jain
    assert not a.kubelab.deadlocked and a.kubelab.half_started_gangs == 0
    assert 0.0 < a.kubelab.utilisation <= 1.0 + 1e-9
    used = sum(a.kubelab.gpu_seconds.values())
    assert used <= CAPACITY * WEEK
