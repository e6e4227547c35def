"""GPU queues (``scheduling.kubelab.io/v1`` Queue): the names and the parsed spec.

A Queue gives a user or team a nominal share of the cluster (GPUs, and optionally CPU and
memory), how much idle capacity beyond it the queue may borrow, and how long its own
pods wait for borrowers to leave before their borrowed pods are preempted. Pods name
their queue with the label ``kubelab.io/queue``; a gang (pods started all together or not
at all) with ``kubelab.io/gang`` and ``kubelab.io/gang-size``. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.gpus import GPU_RESOURCE
from api.quantity import bytes_value, cpu_millis

GROUP = "scheduling.kubelab.io"
API_VERSION = f"{GROUP}/v1"
QUEUE_LABEL = "kubelab.io/queue"
GANG_LABEL = "kubelab.io/gang"
GANG_SIZE_LABEL = "kubelab.io/gang-size"
# Uses idle GPUs, is preempted first, never preempts and is not charged to a quota.
BEST_EFFORT_CLASS = "kubelab-best-effort"
BEST_EFFORT_PRIORITY = -1000
DEFAULT_RECLAIM_GRACE = 30.0
DEFAULT_HALF_LIFE = 7 * 24 * 3600.0

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Amount:
    """GPUs (whole), CPU (millicores) and memory (bytes)."""

    gpus: int = 0
    cpu: int = 0
    memory: int = 0

    def __add__(self, other: Amount) -> Amount:
        return Amount(self.gpus + other.gpus, self.cpu + other.cpu, self.memory + other.memory)

    def __sub__(self, other: Amount) -> Amount:
        return Amount(self.gpus - other.gpus, self.cpu - other.cpu, self.memory - other.memory)

    def floor0(self) -> Amount:
        return Amount(max(self.gpus, 0), max(self.cpu, 0), max(self.memory, 0))

    def fits_in(self, limit: Amount, counted: Amount) -> bool:
        """``self`` <= ``limit`` in every dimension ``counted`` says the limit sets."""
        return (
            (not counted.gpus or self.gpus <= limit.gpus)
            and (not counted.cpu or self.cpu <= limit.cpu)
            and (not counted.memory or self.memory <= limit.memory)
        )


def amount_of(resources: Obj | None) -> tuple[Amount, Amount]:
    """(amount, which dimensions were given as 1/0) of a ResourceList-like map."""
    r = resources or {}
    gpus = bytes_value(r[GPU_RESOURCE]) if GPU_RESOURCE in r else 0
    cpu = cpu_millis(r["cpu"]) if "cpu" in r else 0
    mem = bytes_value(r["memory"]) if "memory" in r else 0
    given = Amount(int(GPU_RESOURCE in r), int("cpu" in r), int("memory" in r))
    return Amount(gpus, cpu, mem), given


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """One queue as the scheduler reads it."""

    name: str
    nominal: Amount
    counted: Amount  # dimensions the nominal share sets (GPUs always)
    # Most this queue may use beyond its nominal share; None: any idle capacity.
    borrowing_limit: Amount | None = None
    reclaim_grace: float = DEFAULT_RECLAIM_GRACE


def queue_spec(obj: Obj) -> QueueSpec:
    """Parse a (validated) Queue object."""
    spec = obj.get("spec") or {}
    nominal, given = amount_of(spec.get("nominal"))
    limit_raw = spec.get("borrowingLimit")
    limit = amount_of(limit_raw)[0] if limit_raw is not None else None
    grace = spec.get("reclaimGracePeriodSeconds")
    return QueueSpec(
        name=(obj.get("metadata") or {}).get("name", ""),
        nominal=nominal,
        counted=Amount(1, given.cpu, given.memory),
        borrowing_limit=limit,
        reclaim_grace=float(grace) if grace is not None else DEFAULT_RECLAIM_GRACE,
    )


def iso_week(t: float) -> str:
    """``2026-W49``: the ISO week (UTC) a Queue's ``status.usage.weekGpuSeconds`` counts."""
    year, week, _ = datetime.fromtimestamp(t, UTC).isocalendar()
    return f"{year}-W{week:02d}"


def queue_of(pod: Obj) -> str:
    """The queue a pod names ('' for none)."""
    return str(((pod.get("metadata") or {}).get("labels") or {}).get(QUEUE_LABEL) or "")


def gang_of(pod: Obj) -> tuple[str, int] | None:
    """(gang name, members needed) of a gang member; None for a pod on its own."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    name = labels.get(GANG_LABEL)
    if not name:
        return None
    try:
        size = int(labels.get(GANG_SIZE_LABEL) or 1)
    except ValueError:
        size = 1
    return str(name), max(size, 1)


def best_effort_priority_class() -> Obj:
    """The built-in best-effort PriorityClass (created by the apiserver at first start)."""
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": BEST_EFFORT_CLASS},
        "value": BEST_EFFORT_PRIORITY,
        "preemptionPolicy": "Never",
        "description": "Uses idle GPUs beyond any queue's quota, and is preempted first when "
        "other work needs them; never preempts anything itself.",
    }
