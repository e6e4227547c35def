"""Capacity arriving node by node: the framework's caches catch up with the nodes that
changed (the snapshot's static log) instead of re-filtering every node per new node, and
still always pick the cluster's best node."""

from __future__ import annotations

import random

from scheduler.framework import Diagnosis, Framework, ScheduleResult
from scheduler.plugins import default_framework
from scheduler.podinfo import PodInfo
from scheduler.snapshot import Snapshot
from tests.unit.sched_world import info, node, pod, snapshot


def _best_total(fw: Framework, snap: Snapshot, pi: PodInfo) -> int:
    """The best total score over every node, straight from the plugins (-1: none fits)."""
    best = -1
    for ni in snap.node_list:
        if any(f.relevant(pi) and f.filter(pi, ni) is not None for f in fw.filters):
            continue
        best = max(best, sum(s.weight * s.score(pi, ni) for s in fw.scores if s.relevant(pi)))
    return best


def test_a_new_node_costs_one_evaluation_not_one_per_node() -> None:
    snap = snapshot([node(f"n{i}", cpu="1") for i in range(100)])
    fw = default_framework()
    assert isinstance(fw.schedule(info(pod("warm")), snap), ScheduleResult)
    before, static_before = fw.index.evaluations, fw.static_evaluations
    snap.add_node(node("big", cpu="64"))
    res = fw.schedule(info(pod("next")), snap)
    assert isinstance(res, ScheduleResult) and res.node.name == "big"
    assert fw.index.evaluations - before <= 2
    assert fw.static_evaluations - static_before == 1


def test_caught_up_caches_agree_with_a_full_pass_through_node_churn() -> None:
    rng = random.Random(11)
    snap = Snapshot()
    fw = default_framework()
    live: list[str] = []
    for step in range(300):
        op = rng.random()
        if op < 0.35 or not live:
            name = f"n{step}"
            snap.add_node(
                node(
                    name,
                    cpu=rng.choice(["1", "2", "4"]),
                    ready=rng.choice(["True", "True", "False"]),
                    labels={"zone": rng.choice(["a", "b"])},
                )
            )
            live.append(name)
        elif op < 0.5:
            name = rng.choice(live)
            snap.update_node(
                node(name, cpu="4", unschedulable=rng.random() < 0.5, labels={"zone": "a"})
            )
        elif op < 0.6:
            name = live.pop(rng.randrange(len(live)))
            snap.remove_node(name)
        p = pod(
            f"p{step}",
            cpu=rng.choice(["100m", "500m", "1"]),
            node_selector={"zone": "a"} if rng.random() < 0.3 else None,
        )
        pi = info(p)
        res = fw.schedule(pi, snap)
        expected = _best_total(fw, snap, pi)
        if expected < 0:
            assert isinstance(res, Diagnosis), step
            continue
        assert isinstance(res, ScheduleResult), step
        assert res.node.name in snap.nodes, step  # never a removed node
        got = sum(s.weight * s.score(pi, res.node) for s in fw.scores if s.relevant(pi))
        assert got == expected, step
        snap.assume(pi, res.node.name, res.allocations.get("gpus", []))


def test_a_failing_backlog_is_diagnosed_once_per_snapshot_state() -> None:
    snap = snapshot([node("small", cpu="1")])
    fw = default_framework()
    first = fw.schedule(info(pod("a", cpu="2")), snap)
    again = fw.schedule(info(pod("b", cpu="2")), snap)
    assert isinstance(first, Diagnosis) and again is first
    snap.add_node(node("small-2", cpu="1"))
    after = fw.schedule(info(pod("c", cpu="2")), snap)
    assert isinstance(after, Diagnosis) and after is not first and after.num_nodes == 2
    snap.update_node(node("small", cpu="8"))
    assert isinstance(fw.schedule(info(pod("d", cpu="2")), snap), ScheduleResult)
    snap.update_node(node("small", cpu="1"))
    fw.schedule(info(pod("e", cpu="2")), snap)
    # Room held for a preemptor differs per pod: then every pod is diagnosed afresh.
    snap.nominate(info(pod("boss", cpu="1", priority=100)), "small-2")
    x, y = (fw.schedule(info(pod(n, cpu="2")), snap) for n in ("x", "y"))
    assert isinstance(x, Diagnosis) and isinstance(y, Diagnosis) and x is not y
