"""The scheduler's book of queues: their specs, the pods charged to each (bound, or
assumed while their Binding is on the wire) and their decayed GPU usage.

Why the scheduler keeps usage, not a controller: the scheduler already sees every pod
start and stop in its cache and is the one reader of usage (it orders waiting work by
it), so a second component would only duplicate the ledger and race it. It writes the
figures to each Queue's ``status`` every few seconds (``kl get/top queues`` read them),
and reads them back on start, decayed over the time it was away, so a restart forgets
nothing but the last few seconds. Pure bookkeeping: the writes are the scheduler's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from api.gpus import GPU_RESOURCE
from api.queues import (
    BEST_EFFORT_CLASS,
    DEFAULT_HALF_LIFE,
    Amount,
    QueueSpec,
    iso_week,
    queue_of,
    queue_spec,
)
from scheduler.fairshare import accrued, decayed, fair_share_factors
from scheduler.podinfo import PodInfo
from scheduler.quota_book import QuotaBook, Workload

Obj = dict[str, Any]


def parse_time(text: str) -> float:
    """An RFC 3339 timestamp as a Unix time (0 when missing or malformed)."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (ValueError, AttributeError):
        return 0.0


def is_best_effort(pod: Obj) -> bool:
    return (pod.get("spec") or {}).get("priorityClassName") == BEST_EFFORT_CLASS


def workload_of(pi: PodInfo, queue: str) -> Workload:
    return Workload(
        pi.key,
        queue,
        Amount(pi.gpus, pi.cpu, pi.memory),
        parse_time(pi.created),
        is_best_effort(pi.pod),
    )


class QueueLedger:
    """Queues, charges and usage (see the module docstring)."""

    def __init__(
        self, half_life: float = DEFAULT_HALF_LIFE, clock: Callable[[], float] = time.time
    ) -> None:
        self.half_life = half_life
        self.clock = clock
        self.specs: dict[str, QueueSpec] = {}
        self.usage: dict[str, float] = {}  # decayed GPU-seconds
        self.week: dict[str, tuple[str, float]] = {}  # queue -> (ISO week, GPU-seconds)
        self.charged: dict[str, Workload] = {}  # pod key -> what it holds
        self.pending: dict[str, str] = {}  # pending pod key -> its queue
        self._last = clock()

    # -- queues ------------------------------------------------------------------------------

    def set_queue(self, obj: Obj) -> None:
        """A Queue appeared or changed; on first sight its usage comes from its status,
        decayed over the time since it was written."""
        spec = queue_spec(obj)
        self.specs[spec.name] = spec
        if spec.name in self.usage:
            return
        status = obj.get("status") or {}
        usage = status.get("usage") or {}
        written = parse_time(str(usage.get("lastUpdateTime") or ""))
        value = float(usage.get("gpuSeconds") or 0.0)
        self.usage[spec.name] = decayed(value, self.clock() - written, self.half_life)
        week = str(usage.get("week") or "")
        if week == iso_week(self.clock()):
            self.week[spec.name] = (week, float(usage.get("weekGpuSeconds") or 0.0))

    def remove_queue(self, name: str) -> None:
        self.specs.pop(name, None)
        self.usage.pop(name, None)
        self.week.pop(name, None)

    # -- pods --------------------------------------------------------------------------------

    def charge(self, pi: PodInfo) -> None:
        """``pi`` holds its resources now (assumed or bound); idempotent."""
        queue = queue_of(pi.pod)
        self.pending.pop(pi.key, None)
        if not queue:
            return
        if pi.key not in self.charged:
            self.tick()
        self.charged[pi.key] = workload_of(pi, queue)

    def discharge(self, key: str) -> None:
        """The pod stopped holding anything (finished, deleted, Binding failed)."""
        if key in self.charged:
            self.tick()
            del self.charged[key]

    def wait(self, key: str, pod: Obj) -> None:
        """A pending pod (for the waiting counts)."""
        queue = queue_of(pod)
        if queue:
            self.pending[key] = queue

    def forget_pending(self, key: str) -> None:
        self.pending.pop(key, None)

    # -- usage -------------------------------------------------------------------------------

    def running_gpus(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for w in self.charged.values():
            out[w.queue] = out.get(w.queue, 0) + w.demand.gpus
        return out

    def tick(self) -> None:
        """Accrue every queue's usage up to now (the GPUs held since the last tick)."""
        now = self.clock()
        elapsed = now - self._last
        if elapsed <= 0:
            return
        gpus = self.running_gpus()
        week = iso_week(now)
        for name in list(self.specs):
            g = gpus.get(name, 0)
            self.usage[name] = accrued(self.usage.get(name, 0.0), g, elapsed, self.half_life)
            wk, secs = self.week.get(name, (week, 0.0))
            self.week[name] = (week, (secs if wk == week else 0.0) + g * elapsed)
        self._last = now

    def factors(self) -> dict[str, float]:
        """Every queue's fair-share factor (share = nominal GPUs)."""
        self.tick()
        return fair_share_factors(
            self.usage, {n: float(s.nominal.gpus) for n, s in self.specs.items()}
        )

    def book(self, capacity: Amount) -> QuotaBook:
        return QuotaBook(self.specs, capacity, self.charged.values())

    def status(self, name: str, capacity: Amount, factors: dict[str, float]) -> Obj:
        """The Queue's ``status`` as the scheduler writes it."""
        book = self.book(capacity)
        week, week_secs = self.week.get(name, (iso_week(self.clock()), 0.0))
        now = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        used = book.used.get(name, Amount())
        return {
            "used": {GPU_RESOURCE: used.gpus, "cpu": f"{used.cpu}m", "memory": str(used.memory)},
            "borrowed": {GPU_RESOURCE: book.borrowed(name).gpus if name in book.used else 0},
            "pendingPods": sum(1 for q in self.pending.values() if q == name),
            "runningPods": sum(1 for w in self.charged.values() if w.queue == name),
            "fairShare": round(factors.get(name, 1.0), 4),
            "usage": {
                "gpuSeconds": round(self.usage.get(name, 0.0), 1),
                "halfLifeSeconds": self.half_life,
                "week": week,
                "weekGpuSeconds": round(week_secs, 1),
                "lastUpdateTime": now,
            },
        }
