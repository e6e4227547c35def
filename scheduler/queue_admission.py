"""The scheduler's queue step: quota admission, fair-share rank, reclaim after a grace
period, and the gang's members. No I/O: the scheduler calls it inside a cycle and does
the writes (Bindings, evictions, Queue status) itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from api.queues import Amount, gang_of, queue_of
from scheduler.framework import Diagnosis, Framework
from scheduler.plugins.preemption import Preemption, find_preemption
from scheduler.podinfo import PodInfo
from scheduler.queue_ledger import QueueLedger, is_best_effort
from scheduler.quota_book import Verdict
from scheduler.snapshot import Snapshot

Obj = dict[str, Any]


def capacity_of(snapshot: Snapshot) -> Amount:
    """What the schedulable nodes offer (ready, not cordoned)."""
    gpus = cpu = memory = 0
    for ni in snapshot.node_list:
        if ni.ready and not ni.unschedulable:
            gpus += ni.alloc_gpus
            cpu += ni.alloc_cpu
            memory += ni.alloc_memory
    return Amount(gpus, cpu, memory)


def demand_of(pis: Iterable[PodInfo]) -> Amount:
    total = Amount()
    for pi in pis:
        total = total + Amount(pi.gpus, pi.cpu, pi.memory)
    return total


@dataclass
class Reclaim:
    """What the reclaim step decided for one waiting pod."""

    choice: Preemption | None  # evict these now
    wait: float  # or: seconds of grace left (0 with no choice: reclaim cannot help)
    note: str


class QueueAdmission:
    """Quota, order and reclaim for pods that name a queue."""

    def __init__(self, ledger: QueueLedger, snapshot: Snapshot) -> None:
        self.ledger = ledger
        self.snapshot = snapshot
        # pod key -> when it first needed its nominal share back (ledger clock)
        self.reclaim_since: dict[str, float] = {}

    def rank(self, pod: Obj) -> float:
        """The queue order's rank: minus the fair-share factor (0: no queue)."""
        queue = queue_of(pod)
        if not queue or queue not in self.ledger.specs:
            return 0.0
        return -self.ledger.factors().get(queue, 1.0)

    def verdict(self, pis: list[PodInfo]) -> Verdict | None:
        """Quota's say on starting ``pis`` (one pod, or a gang's members) together; None
        for pods no quota applies to (no queue label, or best effort)."""
        first = pis[0].pod
        queue = queue_of(first)
        if not queue or is_best_effort(first):
            return None
        self.ledger.tick()
        book = self.ledger.book(capacity_of(self.snapshot))
        return book.admit(queue, demand_of(pis))

    def priority_victims(self, pi: PodInfo) -> Callable[[PodInfo], bool] | None:
        """Whom ``pi`` may preempt by priority; None: the plugin's own rule (any lower
        priority), for pods no quota applies to. A queue's pod takes lower-priority pods
        of its own queue, best effort, and pods no queue is charged for; never another
        queue's: those only reclaim takes, borrowed ones only, after the grace period.
        Otherwise a higher priority class would let one queue into another's nominal
        share (Kueue's rule, too: priority counts within a queue, borrowing across)."""
        queue = queue_of(pi.pod)
        if not queue or queue not in self.ledger.specs or is_best_effort(pi.pod):
            return None
        specs = self.ledger.specs

        def eligible(victim: PodInfo) -> bool:
            if victim.priority >= pi.priority:
                return False
            other = queue_of(victim.pod)
            return is_best_effort(victim.pod) or other == queue or other not in specs

        return eligible

    def reclaim(self, fw: Framework, pi: PodInfo, diag: Diagnosis) -> Reclaim:
        """For a pod within its queue's nominal share that fits nowhere: after the
        queue's grace period, the borrowed pods of other queues to evict (newest first,
        fewest per node, as the preemption plugin picks them)."""
        queue = queue_of(pi.pod)
        spec = self.ledger.specs.get(queue)
        if spec is None:
            return Reclaim(None, 0.0, "")
        book = self.ledger.book(capacity_of(self.snapshot))
        borrowed = {w.key for w in book.reclaimable(queue)}
        if not borrowed:
            return Reclaim(None, 0.0, "")
        choice = find_preemption(fw, pi, self.snapshot, diag, eligible=lambda p: p.key in borrowed)
        if choice is None or not choice.victims:
            return Reclaim(None, 0.0, "")
        now = self.ledger.clock()
        since = self.reclaim_since.setdefault(pi.key, now)
        left = spec.reclaim_grace - (now - since)
        if left > 0:
            return Reclaim(
                None,
                left,
                f"reclaim: queue {queue} wants its nominal share back; "
                f"{len(choice.victims)} borrowed pod(s) on node {choice.node} are preempted "
                f"in {left:.0f}s unless room comes first",
            )
        self.reclaim_since.pop(pi.key, None)
        return Reclaim(choice, 0.0, "")

    def forget(self, key: str) -> None:
        self.reclaim_since.pop(key, None)


def same_gang(pod: Obj, other: Obj) -> bool:
    g = gang_of(pod)
    return g is not None and gang_of(other) == g
