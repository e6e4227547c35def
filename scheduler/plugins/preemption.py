"""Preemption (PostFilter): when a pod fits nowhere, find the node where deleting the
fewest lower-priority pods makes room. Pods of equal or higher priority are never
victims. Pure: it only reads the snapshot; the scheduler does the deletes and events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scheduler.framework import Diagnosis, Framework, with_nominated
from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo, Snapshot


@dataclass
class Preemption:
    """The chosen node and the pods to delete there (none: wait for terminating pods)."""

    node: str
    victims: list[PodInfo]


def may_preempt(pod: PodInfo) -> bool:
    """``spec.preemptionPolicy: Never`` opts a pod out of preempting others."""
    return (pod.pod.get("spec") or {}).get("preemptionPolicy") != "Never"


def _fits(fw: Framework, pod: PodInfo, node: NodeInfo) -> bool:
    return all(f.filter(pod, node) is None for f in fw.dynamic_filters if f.relevant(pod))


def select_victims(
    fw: Framework,
    pod: PodInfo,
    node: NodeInfo,
    protected: frozenset[str] | set[str] = frozenset(),
    eligible: Callable[[PodInfo], bool] | None = None,
) -> list[PodInfo] | None:
    """The fewest lower-priority pods on ``node`` whose removal lets ``pod`` fit.

    As kube-scheduler does: remove every lower-priority pod, check the pod fits, then give
    back ("reprieve") the most important ones first while it still fits. None when even
    removing all of them is not enough; ``[]`` when pods already terminating there will
    make room. ``protected`` pods (assumed, mid-Binding) stay. ``eligible``, when given,
    replaces "lower priority" as what may be a victim (queue reclaim: borrowed pods).
    """
    # Room held for preemptors that outrank (or equal) ``pod`` stays held: without it, two
    # preemptors would pick the same victims and each wait for the other's room forever.
    sim = with_nominated(pod, node) or node.clone()
    # Pods already being deleted will go away on their own: never victims, and the
    # simulation assumes they are gone.
    for p in [p for p in node.pods.values() if p.terminating]:
        sim.remove_pod(p.key)
    if _fits(fw, pod, sim):
        return []  # only terminating pods are in the way: wait for them
    may_go = eligible or (lambda p: p.priority < pod.priority)
    candidates = [
        p
        for p in sim.pods.values()
        if may_go(p) and p.key not in protected and p.key not in node.nominated
    ]
    if not candidates:
        return None
    for p in candidates:
        sim.remove_pod(p.key)
    if not _fits(fw, pod, sim):
        return None
    # Most important first: higher priority, then older.
    candidates.sort(key=lambda p: (-p.priority, p.created))
    victims: list[PodInfo] = []
    for p in candidates:
        sim.add_pod(p)
        if not _fits(fw, pod, sim):
            sim.remove_pod(p.key)
            victims.append(p)
    return victims


def find_preemption(
    fw: Framework,
    pod: PodInfo,
    snapshot: Snapshot,
    diagnosis: Diagnosis,
    eligible: Callable[[PodInfo], bool] | None = None,
) -> Preemption | None:
    """Pick the node needing the fewest victims, then the lowest top victim priority, then
    the lowest priority sum; None when preemption cannot help anywhere. ``eligible``: as
    for ``select_victims`` (reclaim ignores ``preemptionPolicy``: the queue takes back
    its own share, the pod does not preempt by priority)."""
    if eligible is None and not may_preempt(pod):
        return None
    protected = set(snapshot.assumed)
    best: tuple[tuple[int, int, int, str], Preemption] | None = None
    for name in diagnosis.resolvable:
        node = snapshot.nodes.get(name)
        if node is None:
            continue
        victims = select_victims(fw, pod, node, protected, eligible)
        if victims is None:
            continue
        rank = (
            len(victims),
            max((v.priority for v in victims), default=-(2**63)),
            sum(v.priority for v in victims),
            name,
        )
        if best is None or rank < best[0]:
            best = (rank, Preemption(name, victims))
    return best[1] if best else None
