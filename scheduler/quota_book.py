"""Queue quotas: who may start what, who is borrowing, and what reclaim may take. Pure.

The cohort model of Kueue, for one cluster: a queue may always use up to its nominal
share; beyond it, it borrows, up to its ``borrowingLimit``, from capacity no other queue is
using (``capacity - Σ others used``: idle nominal shares and capacity no queue owns). When an owner wants its nominal share back and the GPUs are taken, the pods
holding them beyond their queue's nominal share ("borrowed", the newest first) may be
preempted; a queue's nominal share is never taken. Best-effort work is charged to no
queue (it only ever uses idle GPUs and is preempted first by priority).

The scheduler builds a book from what runs; the ``make bench`` simulation builds the same
book from its simulated cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from api.queues import Amount, QueueSpec


@dataclass(frozen=True, slots=True)
class Workload:
    """A running pod (or a whole gang) as the book counts it."""

    key: str
    queue: str
    demand: Amount
    started: float = 0.0  # for "newest first"
    best_effort: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a queue may start ``demand`` now, as the quota sees it."""

    admitted: bool
    within_nominal: bool  # all of it fits the queue's own share: reclaim may help
    message: str


class QuotaBook:
    """The quota arithmetic over the queues' specs and the running workloads."""

    def __init__(
        self, specs: Mapping[str, QueueSpec], capacity: Amount, running: Iterable[Workload]
    ) -> None:
        self.specs = specs
        self.capacity = capacity
        self.used: dict[str, Amount] = {name: Amount() for name in specs}
        self.running: dict[str, list[Workload]] = {name: [] for name in specs}
        for w in running:
            self.add(w)

    def add(self, w: Workload) -> None:
        """Count ``w`` as running (best effort and pods of unknown queues count nowhere):
        a caller that starts several workloads in one pass keeps one book up to date."""
        if w.best_effort or w.queue not in self.specs:
            return
        self.used[w.queue] = self.used[w.queue] + w.demand
        self.running[w.queue].append(w)

    def borrowed(self, queue: str) -> Amount:
        """How far ``queue`` is beyond its nominal share."""
        return (self.used[queue] - self.specs[queue].nominal).floor0()

    def idle_share(self, queue: str) -> Amount:
        """The part of ``queue``'s nominal share it does not use (lent to others)."""
        return (self.specs[queue].nominal - self.used[queue]).floor0()

    def ceiling(self, queue: str) -> Amount:
        """The most ``queue`` may use now: capacity less what every other queue uses,
        capped by its own borrowing limit. An idle nominal share is lent, not held: its
        owner takes it back by reclaim (``reclaimable``) when it wants it."""
        top = self.capacity
        for name in self.specs:
            if name != queue:
                top = top - self.used[name]
        spec = self.specs[queue]
        if spec.borrowing_limit is not None:
            cap = spec.nominal + spec.borrowing_limit
            top = Amount(
                min(top.gpus, cap.gpus), min(top.cpu, cap.cpu), min(top.memory, cap.memory)
            )
        return top

    def lenders(self, queue: str) -> list[str]:
        """The other queues with an idle nominal share, by name."""
        return sorted(n for n in self.specs if n != queue and self.idle_share(n).gpus > 0)

    def describe(self, queue: str) -> str:
        """``queue alice: 6/4 GPUs in use, 2 borrowed from bob's idle share``."""
        spec = self.specs[queue]
        used = self.used[queue]
        text = f"queue {queue}: {used.gpus}/{spec.nominal.gpus} GPUs in use"
        b = self.borrowed(queue).gpus
        if b:
            lenders = self.lenders(queue)
            if len(lenders) == 1:
                src = f"{lenders[0]}'s idle share"
            elif lenders:
                src = "the idle shares of " + ", ".join(lenders)
            else:
                src = "capacity no queue owns"
            text += f", {b} borrowed from {src}"
        return text

    def admit(self, queue: str, demand: Amount) -> Verdict:
        """May ``queue`` start ``demand`` (quota only; the nodes' real room is the
        scheduler's filters' to judge)?"""
        spec = self.specs.get(queue)
        if spec is None:
            return Verdict(
                False,
                False,
                f"queue {queue} does not exist: create it (kl get queues lists them) "
                "or change the pod's kubelab.io/queue label",
            )
        after = self.used[queue] + demand
        if after.fits_in(spec.nominal, spec.counted):
            return Verdict(True, True, self.describe(queue))
        over = (after - spec.nominal).floor0()
        if spec.borrowing_limit is not None and not over.fits_in(
            spec.borrowing_limit, spec.counted
        ):
            return Verdict(
                False,
                False,
                f"{self.describe(queue)}; this needs {demand.gpus} more and would borrow "
                f"{over.gpus}, past its borrowing limit of {spec.borrowing_limit.gpus}",
            )
        if not after.fits_in(self.ceiling(queue), spec.counted):
            free = max(self.ceiling(queue).gpus - self.used[queue].gpus, 0)
            return Verdict(
                False,
                False,
                f"{self.describe(queue)}; this needs {demand.gpus} more, and other queues' "
                f"idle shares leave {free} to borrow",
            )
        return Verdict(True, False, self.describe(queue))

    def borrowed_workloads(self, queue: str) -> list[Workload]:
        """``queue``'s running workloads beyond its nominal share, newest first: the
        oldest ones fill the nominal share, what starts after is borrowed."""
        spec = self.specs[queue]
        out: list[Workload] = []
        total = Amount()
        for w in sorted(self.running[queue], key=lambda w: (w.started, w.key)):
            total = total + w.demand
            if not total.fits_in(spec.nominal, spec.counted):
                out.append(w)
        out.reverse()
        return out

    def reclaimable(self, for_queue: str) -> list[Workload]:
        """What reclaim for ``for_queue`` may preempt: every other queue's borrowed
        workloads, the newest first."""
        out = [w for n in self.specs if n != for_queue for w in self.borrowed_workloads(n)]
        out.sort(key=lambda w: (-w.started, w.key))
        return out
