"""Preemption: fewest lower-priority victims, never equal or higher priority."""

from __future__ import annotations

from scheduler.framework import Diagnosis
from scheduler.plugins import default_framework
from scheduler.plugins.preemption import find_preemption
from tests.unit.sched_world import info, node, pod, snapshot


def _gpu_pod(name: str, node_name: str, idx: list[int], priority: int) -> dict:  # type: ignore[type-arg]
    uuids = ",".join(f"GPU-{node_name}-{i}" for i in idx)
    return pod(name, gpus=len(idx), node_name=node_name, gpu_uuids=uuids, priority=priority)


def _preempt(snap, p):  # type: ignore[no-untyped-def]
    fw = default_framework()
    pi = info(p)
    diag = fw.schedule(pi, snap)
    assert isinstance(diag, Diagnosis)
    return find_preemption(fw, pi, snap, diag)


def test_picks_the_node_with_fewest_victims() -> None:
    snap = snapshot(
        [node("a", gpus=2), node("b", gpus=2)],
        [
            _gpu_pod("a1", "a", [0], 1),
            _gpu_pod("a2", "a", [1], 1),
            _gpu_pod("b1", "b", [0, 1], 1),
        ],
    )
    choice = _preempt(snap, pod("vip", gpus=2, priority=10))
    assert choice is not None
    assert choice.node == "b"
    assert [v.key for v in choice.victims] == ["default/b1"]


def test_only_as_many_victims_as_needed_lowest_priority_first() -> None:
    snap = snapshot(
        [node("a", gpus=3)],
        [_gpu_pod("p1", "a", [0], 1), _gpu_pod("p5", "a", [1], 5), _gpu_pod("p3", "a", [2], 3)],
    )
    choice = _preempt(snap, pod("vip", gpus=1, priority=10))
    assert choice is not None
    assert [v.key for v in choice.victims] == ["default/p1"]


def test_never_preempts_equal_or_higher_priority() -> None:
    snap = snapshot(
        [node("a", gpus=2)], [_gpu_pod("same", "a", [0], 10), _gpu_pod("high", "a", [1], 20)]
    )
    assert _preempt(snap, pod("vip", gpus=1, priority=10)) is None


def test_no_preemption_where_a_static_filter_fails() -> None:
    taint = {"key": "gpu", "value": "broken", "effect": "NoSchedule"}
    snap = snapshot([node("a", gpus=1, taints=[taint])], [_gpu_pod("low", "a", [0], 0)])
    assert _preempt(snap, pod("vip", gpus=1, priority=10)) is None


def test_preemption_policy_never() -> None:
    snap = snapshot([node("a", gpus=1)], [_gpu_pod("low", "a", [0], 0)])
    p = pod("vip", gpus=1, priority=10)
    p["spec"]["preemptionPolicy"] = "Never"
    assert _preempt(snap, p) is None


def test_cpu_preemption_counts_several_small_victims() -> None:
    snap = snapshot(
        [node("a", cpu="1")],
        [pod(f"s{i}", cpu="250m", node_name="a", priority=0) for i in range(4)],
    )
    choice = _preempt(snap, pod("vip", cpu="600m", priority=5))
    assert choice is not None
    assert len(choice.victims) == 3


def test_terminating_pods_are_not_victims_and_make_the_preemptor_wait() -> None:
    gone = _gpu_pod("gone", "a", [0], 0)
    gone["metadata"]["deletionTimestamp"] = "2024-01-01T00:01:00Z"
    snap = snapshot([node("a", gpus=1)], [gone])
    choice = _preempt(snap, pod("vip", gpus=1, priority=10))
    assert choice is not None
    assert choice.node == "a" and choice.victims == []


def test_a_second_preemptor_leaves_the_first_ones_room_and_takes_its_own() -> None:
    """Two equal preemptors on one node: the second counts the room held for the first,
    so it frees room for both (before: one victim, and each waited for the other)."""
    snap = snapshot(
        [node("a", gpus=2)], [_gpu_pod("low1", "a", [0], 0), _gpu_pod("low2", "a", [1], 0)]
    )
    first = _preempt(snap, pod("vip1", gpus=1, priority=10))
    assert first is not None and len(first.victims) == 1
    snap.nominate(info(pod("vip1", gpus=1, priority=10)), first.node)
    second = _preempt(snap, pod("vip2", gpus=1, priority=10))
    assert second is not None
    assert len(second.victims) == 2  # its own victim and the first one's: room for both
    assert {v.key for v in first.victims} < {v.key for v in second.victims}
