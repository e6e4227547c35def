"""Queueing hints: a cluster event moves back only the parked pods it may help, straight to
active; the rest stay parked."""

from __future__ import annotations

from scheduler.framework import Diagnosis, Framework
from scheduler.hints import ClusterEvent, EventKind, QueueingHint
from scheduler.plugins import default_framework
from scheduler.plugins.node_affinity import NodeAffinity
from scheduler.plugins.resources_fit import NodeResourcesFit
from scheduler.podinfo import PodInfo
from scheduler.queue import SchedulingQueue
from scheduler.snapshot import NodeInfo
from tests.unit.sched_world import info, node, node_info, pod, snapshot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _park(q: SchedulingQueue, fw: Framework, p: dict, nodes: list[dict]) -> PodInfo:  # type: ignore[type-arg]
    """Try ``p`` on ``nodes`` (it must fit nowhere) and park it as the scheduler does."""
    pi = info(p)
    q.add(pi.key)
    assert q.pop_nowait() == pi.key
    diag = fw.schedule(pi, snapshot(nodes))
    assert isinstance(diag, Diagnosis)
    q.requeue_unschedulable(pi.key, pi, frozenset(diag.rejectors))
    return pi


def _add(n: dict) -> ClusterEvent:  # type: ignore[type-arg]
    return ClusterEvent(EventKind.NODE_ADD, NodeInfo(n))


def test_resources_rejection_is_requeued_only_by_a_node_that_fits() -> None:
    fw, q = default_framework(), SchedulingQueue(clock=Clock())
    pi = _park(q, fw, pod("big", cpu="2"), [node("small-1", cpu="1")])
    assert q.where(pi.key) == "unschedulable"
    assert q.move_for_event(_add(node("small-2", cpu="1")), fw.may_help) == 0
    assert q.where(pi.key) == "unschedulable"
    assert q.move_for_event(_add(node("roomy", cpu="4")), fw.may_help) == 1
    assert q.pop_nowait() == pi.key


def test_node_selector_rejection_ignores_nodes_without_the_labels() -> None:
    fw, q = default_framework(), SchedulingQueue(clock=Clock())
    want = {"nvidia.com/gpu.product": "H100-80GB"}
    pi = _park(q, fw, pod("picky", node_selector=want), [node("plain-1")])
    assert fw.may_help(pi, frozenset({"NodeAffinity"}), _add(node("plain-2"))) is False
    assert q.move_for_event(_add(node("plain-2", cpu="64")), fw.may_help) == 0
    assert (
        q.move_for_event(
            _add(node("other", labels={"nvidia.com/gpu.product": "A100"})), fw.may_help
        )
        == 0
    )
    assert q.where(pi.key) == "unschedulable"
    assert q.move_for_event(_add(node("h100", labels=want)), fw.may_help) == 1
    assert q.where(pi.key) == "active"


def test_a_pod_in_backoff_goes_straight_to_active_on_a_helpful_event() -> None:
    clock = Clock()
    fw, q = default_framework(), SchedulingQueue(initial_backoff=5, clock=clock)
    pi = info(pod("big", cpu="2"))
    q.add(pi.key)
    assert q.pop_nowait() == pi.key
    diag = fw.schedule(pi, snapshot([node("small", cpu="1")]))
    assert isinstance(diag, Diagnosis)
    # An event while it was being tried: it retries through backoff rather than park.
    q.move_for_event(_add(node("tiny", cpu="500m")), fw.may_help)
    q.requeue_unschedulable(pi.key, pi, frozenset(diag.rejectors))
    assert q.where(pi.key) == "backoff" and q.pop_nowait() is None
    assert q.move_for_event(_add(node("also-small", cpu="1")), fw.may_help) == 0
    assert q.where(pi.key) == "backoff"
    assert q.move_for_event(_add(node("roomy", cpu="4")), fw.may_help) == 1
    assert q.pop_nowait() == pi.key  # no waiting out the 5 s backoff
    # The backoff starts over: the next failure waits the initial 5 s, not 10 s.
    q.requeue_backoff(pi.key)
    assert q.next_ready_in() == 5


def test_without_hints_a_backing_off_pod_waits_out_its_backoff() -> None:
    """The behaviour the hints replace (and ``--no-queueing-hints`` keeps)."""
    clock = Clock()
    q = SchedulingQueue(initial_backoff=5, clock=clock)
    q.add("p")
    q.pop_nowait()
    q.requeue_unschedulable("p")
    q.move_all_to_active()
    assert q.where("p") == "backoff" and q.pop_nowait() is None


def test_a_pod_leaving_a_full_node_requeues_pods_rejected_for_resources() -> None:
    fw, q = default_framework(), SchedulingQueue(clock=Clock())
    holder = pod("holder", cpu="1500m", node_name="only")
    snap = snapshot([node("only", cpu="2")], [holder])
    pi = info(pod("waiter", cpu="1"))
    q.add(pi.key)
    q.pop_nowait()
    diag = fw.schedule(pi, snap)
    assert isinstance(diag, Diagnosis) and diag.rejectors == {"NodeResourcesFit"}
    q.requeue_unschedulable(pi.key, pi, frozenset(diag.rejectors))
    still_full = ClusterEvent(EventKind.ASSIGNED_POD_DELETE, snap.nodes["only"])
    assert q.move_for_event(still_full, fw.may_help) == 0
    snap.delete_pod(holder)
    freed = ClusterEvent(EventKind.ASSIGNED_POD_DELETE, snap.nodes["only"])
    assert q.move_for_event(freed, fw.may_help) == 1


def test_static_plugins_are_not_woken_by_pods_leaving() -> None:
    fw = default_framework()
    pi = info(pod("picky", node_selector={"zone": "a"}))
    ev = ClusterEvent(EventKind.ASSIGNED_POD_DELETE, node_info(node("n", labels={"zone": "a"})))
    assert fw.may_help(pi, frozenset({"NodeAffinity"}), ev) is False
    assert fw.may_help(pi, frozenset({"NodeResourcesFit"}), ev) is True


def test_a_pod_no_plugin_rejected_is_woken_by_any_event() -> None:
    fw, q = default_framework(), SchedulingQueue(clock=Clock())
    pi = _park(q, fw, pod("early"), [])  # no nodes at all
    not_ready = node("booting", ready="False")
    assert q.move_for_event(_add(not_ready), fw.may_help) == 1
    assert q.where(pi.key) == "active"


def test_one_hint_per_group_of_alike_pods() -> None:
    fw, q = default_framework(), SchedulingQueue(clock=Clock())
    for i in range(50):
        _park(q, fw, pod(f"p{i}", cpu="2"), [node("small", cpu="1")])
    _park(q, fw, pod("other", cpu="3"), [node("small", cpu="1")])
    calls: list[str] = []

    def may_help(p: PodInfo, rejectors: frozenset[str], ev: ClusterEvent) -> bool:
        calls.append(p.key)
        return fw.may_help(p, rejectors, ev)

    assert q.move_for_event(_add(node("mid", cpu="2500m")), may_help) == 50
    assert len(calls) == 2  # one per shape, not one per pod
    assert q.counts()["unschedulable"] == 1 and q.counts()["active"] == 50


def test_each_filter_plugin_declares_its_events_and_a_pure_hint() -> None:
    fw = default_framework()
    pi = info(pod("p", cpu="2", node_selector={"zone": "a"}))
    ev = _add(node("n", cpu="4", labels={"zone": "a"}))
    for f in fw.filters:
        assert f.events, f.name
        assert f.queueing_hint(pi, ev) in (QueueingHint.QUEUE, QueueingHint.SKIP)
    assert NodeResourcesFit().queueing_hint(pi, ev) is QueueingHint.QUEUE
    assert NodeAffinity().queueing_hint(pi, _add(node("m"))) is QueueingHint.SKIP
