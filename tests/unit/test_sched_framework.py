"""A whole scheduling cycle over the default plugins: placement, summary, caching."""

from __future__ import annotations

import random

from scheduler.framework import Diagnosis, ScheduleResult
from scheduler.plugins import default_framework
from tests.unit.sched_world import info, node, pod, snapshot

BROKEN = {"key": "gpu", "value": "broken", "effect": "NoSchedule"}


def _place(snap, p) -> str:  # type: ignore[no-untyped-def]
    res = default_framework().schedule(info(p), snap)
    assert isinstance(res, ScheduleResult), res
    return res.node.name


def test_summary_matches_kube_scheduler_wording() -> None:
    snap = snapshot([node("a", gpus=1), node("b", gpus=1), node("c", gpus=4, taints=[BROKEN])])
    res = default_framework().schedule(info(pod("p", gpus=2)), snap)
    assert isinstance(res, Diagnosis)
    assert res.summary() == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {gpu: broken}, "
        "2 Insufficient nvidia.com/gpu."
    )
    assert res.details["a"] == ["Insufficient nvidia.com/gpu: 1 of 1 GPUs free, pod needs 2"]
    # The tainted node lists every reason; it is not a preemption candidate.
    assert res.details["c"][0].startswith("node(s) had untolerated taint {gpu: broken}")
    assert sorted(res.resolvable) == ["a", "b"]


def test_gpu_pod_gets_free_uuids_and_packs() -> None:
    snap = snapshot(
        [node("empty", gpus=4), node("half", gpus=4)],
        [pod("x", gpus=2, node_name="half", gpu_uuids="GPU-half-0,GPU-half-1")],
    )
    res = default_framework().schedule(info(pod("p", gpus=2)), snap)
    assert isinstance(res, ScheduleResult)
    assert res.node.name == "half"
    assert res.allocations == {"gpus": ["GPU-half-2", "GPU-half-3"]}


def test_cpu_pods_stay_off_gpu_boxes_while_other_nodes_fit() -> None:
    snap = snapshot([node("gpu", gpus=8, cpu="64"), node("small", cpu="1")])
    assert _place(snap, pod("p", cpu="500m")) == "small"
    snap.set_pod(pod("q", cpu="800m", node_name="small"))
    assert _place(snap, pod("r", cpu="500m")) == "gpu"


def test_cpu_pods_spread_to_the_least_allocated_node() -> None:
    snap = snapshot([node("a"), node("b")], [pod("x", cpu="2", memory="8Gi", node_name="a")])
    assert _place(snap, pod("p")) == "b"


def test_assumed_pods_are_seen_by_the_next_cycle() -> None:
    fw = default_framework()
    snap = snapshot([node("n", gpus=1)])
    first = fw.schedule(info(pod("a", gpus=1)), snap)
    assert isinstance(first, ScheduleResult)
    snap.assume(info(pod("a", gpus=1)), "n", first.allocations["gpus"])
    second = fw.schedule(info(pod("b", gpus=1)), snap)
    assert isinstance(second, Diagnosis)
    assert second.summary() == "0/1 nodes are available: 1 Insufficient nvidia.com/gpu."


def test_static_cache_follows_node_changes() -> None:
    fw = default_framework()
    snap = snapshot([node("n", taints=[BROKEN])])
    assert isinstance(fw.schedule(info(pod("a")), snap), Diagnosis)
    snap.update_node(node("n"))  # taint removed
    assert isinstance(fw.schedule(info(pod("b")), snap), ScheduleResult)
    snap.add_node(node("m", unschedulable=True))
    snap.update_node(node("n", unschedulable=True))
    res = fw.schedule(info(pod("c")), snap)
    assert isinstance(res, Diagnosis)
    assert res.summary() == "0/2 nodes are available: 2 node(s) were unschedulable."


def test_empty_cluster_summary() -> None:
    res = default_framework().schedule(info(pod("p")), snapshot([]))
    assert isinstance(res, Diagnosis)
    assert res.summary() == "0/0 nodes are available."


def _brute_force_best(snap, p) -> int:  # type: ignore[no-untyped-def]
    """The best total score over every node, computed directly from the plugins."""
    fw = default_framework()
    pi = info(p)
    best = -1
    for ni in snap.node_list:
        if any(f.relevant(pi) and f.filter(pi, ni) is not None for f in fw.filters):
            continue
        score = sum(s.weight * s.score(pi, ni) for s in fw.scores if s.relevant(pi))
        best = max(best, score)
    return best


def _total(fw, p, ni) -> int:  # type: ignore[no-untyped-def]
    pi = info(p)
    return sum(s.weight * s.score(pi, ni) for s in fw.scores if s.relevant(pi))


def test_incremental_index_always_finds_the_best_node_of_the_cluster() -> None:
    rng = random.Random(7)
    nodes = [
        node(
            f"n{i}",
            cpu=rng.choice(["2", "4", "8"]),
            memory=rng.choice(["8Gi", "32Gi"]),
            gpus=rng.choice([0, 0, 4, 8]),
        )
        for i in range(60)
    ]
    snap = snapshot(nodes)
    fw = default_framework()
    for i in range(400):
        p = pod(
            f"p{i}",
            cpu=rng.choice(["100m", "500m", "1"]),
            memory="500Mi",
            gpus=rng.choice([0, 0, 0, 1, 2]),
        )
        res = fw.schedule(info(p), snap)
        expected = _brute_force_best(snap, p)
        if expected < 0:
            assert isinstance(res, Diagnosis)
            continue
        assert isinstance(res, ScheduleResult)
        assert _total(fw, p, res.node) == expected
        pi = info(p)
        snap.assume(pi, res.node.name, res.allocations["gpus"])
        if rng.random() < 0.2:  # some pods finish, freeing room the index must notice
            victim = rng.choice([k for k in snap.assumed])
            snap.forget(victim)


def test_warm_index_rescores_only_changed_nodes() -> None:
    fw = default_framework()
    snap = snapshot([node(f"n{i}") for i in range(1000)])
    first = fw.schedule(info(pod("a")), snap)
    assert isinstance(first, ScheduleResult) and first.evaluated == 1000
    snap.assume(info(pod("a")), first.node.name)
    second = fw.schedule(info(pod("b")), snap)
    assert isinstance(second, ScheduleResult)
    assert second.evaluated == 1  # only the node "a" went to
    assert second.node.name != first.node.name  # and the pods spread


def test_nominated_preemptor_keeps_its_room() -> None:
    fw = default_framework()
    snap = snapshot([node("n", gpus=1)])
    snap.nominate(info(pod("vip", gpus=1, priority=100)), "n")
    low = fw.schedule(info(pod("low", gpus=1, priority=1)), snap)
    assert isinstance(low, Diagnosis)
    assert "higher-priority" in low.details["n"][0]
    vip = fw.schedule(info(pod("vip", gpus=1, priority=100)), snap)
    assert isinstance(vip, ScheduleResult)
