"""Table tests: fair-share order, decayed usage, quota admission, borrowing and reclaim."""

from __future__ import annotations

import pytest

from api.queues import Amount, QueueSpec, gang_of, queue_spec
from scheduler.fairshare import accrued, decayed, fair_share_factors, order_key
from scheduler.quota_book import QuotaBook, Workload

DAY = 86400.0
WEEK = 7 * DAY


@pytest.mark.parametrize(
    ("usage", "elapsed", "half_life", "want"),
    [
        (100.0, WEEK, WEEK, 50.0),
        (100.0, 2 * WEEK, WEEK, 25.0),
        (100.0, 0.0, WEEK, 100.0),
        (100.0, DAY, 0.0, 100.0),  # no decay configured
    ],
)
def test_decay(usage: float, elapsed: float, half_life: float, want: float) -> None:
    assert decayed(usage, elapsed, half_life) == pytest.approx(want)


def test_accrual_is_the_integral_of_decaying_gpu_seconds() -> None:
    # 4 GPUs for one hour, with a week's half-life: barely decayed, ~14,400 GPU-s.
    got = accrued(0.0, 4, 3600.0, WEEK)
    assert 14_360 < got < 14_400
    # Accrual in two halves equals accrual in one go (the formula composes).
    half = accrued(accrued(10.0, 4, 1800.0, WEEK), 4, 1800.0, WEEK)
    assert half == pytest.approx(accrued(10.0, 4, 3600.0, WEEK))
    # Without decay it is plain GPU-seconds.
    assert accrued(5.0, 2, 10.0, 0.0) == 25.0


@pytest.mark.parametrize(
    ("usage", "shares", "want"),
    [
        # Nobody used anything: everyone 1.0.
        ({}, {"a": 4, "b": 4}, {"a": 1.0, "b": 1.0}),
        # Equal shares, a used everything: a 2^-2, b 2^0.
        ({"a": 100.0}, {"a": 4, "b": 4}, {"a": 0.25, "b": 1.0}),
        # Each used exactly its share: 0.5 each.
        ({"a": 75.0, "b": 25.0}, {"a": 3, "b": 1}, {"a": 0.5, "b": 0.5}),
        # Equal usage, a has 3x the share: a's factor is higher.
        ({"a": 50.0, "b": 50.0}, {"a": 3, "b": 1}, {"a": 2 ** (-0.5 / 0.75), "b": 0.25}),
    ],
)
def test_fair_share_factor(
    usage: dict[str, float], shares: dict[str, float], want: dict[str, float]
) -> None:
    got = fair_share_factors(usage, shares)
    assert got == pytest.approx(want)


def test_order_priority_then_factor_then_age() -> None:
    waiting = [
        ("old-heavy", order_key(0, 0.25, "2026-01-01T00:00:00Z")),
        ("new-light", order_key(0, 1.0, "2026-01-02T00:00:00Z")),
        ("urgent", order_key(100, 0.1, "2026-01-03T00:00:00Z")),
        ("older-light", order_key(0, 1.0, "2026-01-01T12:00:00Z")),
    ]
    assert [n for n, _ in sorted(waiting, key=lambda x: x[1])] == [
        "urgent",
        "older-light",
        "new-light",
        "old-heavy",
    ]


def spec(name: str, gpus: int, limit: int | None = None) -> QueueSpec:
    return QueueSpec(
        name,
        Amount(gpus),
        Amount(1),
        Amount(limit) if limit is not None else None,
    )


SPECS = {"alice": spec("alice", 4), "bob": spec("bob", 4), "carol": spec("carol", 4, limit=2)}
CAP = Amount(16)


def run(key: str, queue: str, gpus: int, started: float = 0.0, be: bool = False) -> Workload:
    return Workload(key, queue, Amount(gpus), started, be)


@pytest.mark.parametrize(
    ("running", "queue", "gpus", "admitted", "within", "message"),
    [
        ([], "alice", 4, True, True, "queue alice: 0/4 GPUs in use"),
        # Beyond nominal: borrows the 4 GPUs no queue owns, then others' idle shares.
        ([run("a1", "alice", 4)], "alice", 4, True, False, "queue alice: 4/4 GPUs in use"),
        (
            [run("a1", "alice", 6), run("b1", "bob", 1)],
            "alice",
            2,
            True,
            False,
            "queue alice: 6/4 GPUs in use, 2 borrowed from the idle shares of bob, carol",
        ),
        # Idle shares are lent whole: alice may fill the GPUs bob and carol do not use.
        (
            [run("a1", "alice", 12)],
            "alice",
            2,
            True,
            False,
            "queue alice: 12/4 GPUs in use, 8 borrowed from the idle shares of bob, carol",
        ),
        # Everyone else uses their share: nothing left to borrow.
        (
            [run("a1", "alice", 4), run("b1", "bob", 4), run("c1", "carol", 4), run("x", "bob", 4)],
            "alice",
            1,
            False,
            False,
            "queue alice: 4/4 GPUs in use; this needs 1 more, and other queues' idle shares "
            "leave 0 to borrow",
        ),
        # carol may borrow 2 at most.
        (
            [run("c1", "carol", 5)],
            "carol",
            2,
            False,
            False,
            "queue carol: 5/4 GPUs in use, 1 borrowed from the idle shares of alice, bob; this "
            "needs 2 more and would borrow 3, past its borrowing limit of 2",
        ),
        # The owner is within its share even though bob borrowed everything: reclaim helps.
        ([run("b1", "bob", 16)], "alice", 2, True, True, "queue alice: 0/4 GPUs in use"),
        # Best effort is charged to no queue.
        ([run("be", "alice", 16, be=True)], "alice", 4, True, True, "queue alice: 0/4 GPUs"),
        ([], "dave", 1, False, False, "queue dave does not exist"),
    ],
)
def test_admission(
    running: list[Workload], queue: str, gpus: int, admitted: bool, within: bool, message: str
) -> None:
    v = QuotaBook(SPECS, CAP, running).admit(queue, Amount(gpus))
    assert (v.admitted, v.within_nominal) == (admitted, within)
    assert v.message.startswith(message)


def test_reclaim_takes_only_borrowed_work_newest_first_never_a_nominal_share() -> None:
    running = [
        run("b-old", "bob", 4, started=1.0),  # bob's nominal share
        run("b-mid", "bob", 2, started=2.0),  # borrowed
        run("b-new", "bob", 2, started=3.0),  # borrowed
        run("c1", "carol", 3, started=0.5),  # within carol's share
    ]
    book = QuotaBook(SPECS, CAP, running)
    assert [w.key for w in book.borrowed_workloads("bob")] == ["b-new", "b-mid"]
    assert [w.key for w in book.reclaimable("alice")] == ["b-new", "b-mid"]
    assert book.reclaimable("bob") == []  # carol is within her share
    # A workload straddling the nominal line counts as borrowed (it would not fit without).
    book2 = QuotaBook(SPECS, CAP, [run("b1", "bob", 3, 1.0), run("b2", "bob", 2, 2.0)])
    assert [w.key for w in book2.borrowed_workloads("bob")] == ["b2"]


def test_a_book_kept_up_by_add_is_the_book_built_at_once() -> None:
    """``add`` is how a caller starting several workloads in one pass keeps its book."""
    running = [run("b1", "bob", 6, 1.0), run("a1", "alice", 2, 2.0), run("x", "bob", 8, be=True)]
    grown = QuotaBook(SPECS, CAP, [])
    for w in running:
        grown.add(w)
    whole = QuotaBook(SPECS, CAP, running)
    assert grown.used == whole.used and grown.used["bob"] == Amount(6)  # best effort: none
    assert grown.admit("alice", Amount(8)) == whole.admit("alice", Amount(8))
    grown.add(run("ghost", "nobody", 4))  # a queue that does not exist counts nowhere
    assert grown.used == whole.used


def test_queue_spec_and_gang_labels() -> None:
    q = queue_spec(
        {
            "metadata": {"name": "alice"},
            "spec": {
                "nominal": {"nvidia.com/gpu": 4, "cpu": "16"},
                "borrowingLimit": {"nvidia.com/gpu": 2},
                "reclaimGracePeriodSeconds": 10,
            },
        }
    )
    assert q.nominal == Amount(4, 16000, 0)
    assert q.counted == Amount(1, 1, 0)
    assert q.borrowing_limit == Amount(2)
    assert q.reclaim_grace == 10.0
    labels = {"kubelab.io/gang": "train", "kubelab.io/gang-size": "4"}
    assert gang_of({"metadata": {"labels": labels}}) == ("train", 4)
    assert gang_of({"metadata": {"labels": {}}}) is None
