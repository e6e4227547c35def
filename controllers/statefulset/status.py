"""A StatefulSet's pods as Kubernetes counts them: healthy, available, at which revision."""

from __future__ import annotations

from ..objutil import Obj, is_deleting, meta
from ..podutil import is_available, is_ready, phase
from .identity import revision_of_pod, spec_of


def running_and_ready(pod: Obj) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def healthy(pod: Obj) -> bool:
    return running_and_ready(pod) and not is_deleting(pod)


def min_ready_seconds(sts: Obj) -> int:
    return int(spec_of(sts).get("minReadySeconds") or 0)


def running_and_available(pod: Obj, sts: Obj, now: float) -> bool:
    return phase(pod) == "Running" and is_available(pod, min_ready_seconds(sts), now)


def partition_of(sts: Obj) -> int:
    ru = (spec_of(sts).get("updateStrategy") or {}).get("rollingUpdate") or {}
    return int(ru.get("partition") or 0)


def update_strategy(sts: Obj) -> str:
    return str((spec_of(sts).get("updateStrategy") or {}).get("type") or "RollingUpdate")


def compute_status(
    sts: Obj, pods: list[Obj], current: str, update: str, now: float
) -> dict[str, object]:
    """The status Kubernetes reports, from the pods of the set (replicas and condemned)."""
    st: dict[str, object] = {
        "observedGeneration": int(meta(sts).get("generation") or 0),
        "replicas": 0,
        "readyReplicas": 0,
        "currentReplicas": 0,
        "updatedReplicas": 0,
        "availableReplicas": 0,
        "currentRevision": current,
        "updateRevision": update,
        "collisionCount": int((sts.get("status") or {}).get("collisionCount") or 0),
    }
    counts = {k: 0 for k in ("replicas", "ready", "current", "updated", "available")}
    for p in pods:
        counts["replicas"] += 1
        if running_and_ready(p):
            counts["ready"] += 1
            if running_and_available(p, sts, now):
                counts["available"] += 1
        if not is_deleting(p):
            rev = revision_of_pod(p)
            counts["current"] += rev == current
            counts["updated"] += rev == update
    st["replicas"] = counts["replicas"]
    st["readyReplicas"] = counts["ready"]
    st["availableReplicas"] = counts["available"]
    st["currentReplicas"] = counts["current"]
    st["updatedReplicas"] = counts["updated"]
    # completeRollingUpdate: once every pod runs the update revision, it is the current one.
    if (
        update_strategy(sts) == "RollingUpdate"
        and counts["updated"] == counts["replicas"]
        and counts["ready"] == counts["replicas"]
    ):
        st["currentReplicas"] = counts["updated"]
        st["currentRevision"] = update
    return st
