"""Facts about pods that several controllers need: active, ready, available."""

from __future__ import annotations

from .objutil import Obj, creation_time, get_condition, is_deleting, meta, parse_time

TERMINAL_PHASES = ("Succeeded", "Failed")


def phase(pod: Obj) -> str:
    return str((pod.get("status") or {}).get("phase") or "Pending")


def is_active(pod: Obj) -> bool:
    """Counts towards a controller's replicas: not finished and not being deleted."""
    return phase(pod) not in TERMINAL_PHASES and not is_deleting(pod)


def is_ready(pod: Obj) -> bool:
    c = get_condition(pod, "Ready")
    return bool(c and c.get("status") == "True")


def ready_since(pod: Obj) -> float | None:
    """When the pod last became Ready (None if it is not Ready)."""
    c = get_condition(pod, "Ready")
    if not c or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime")) or creation_time(pod)


def is_available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least ``min_ready_seconds``."""
    since = ready_since(pod)
    if since is None:
        return False
    return min_ready_seconds <= 0 or since + min_ready_seconds <= now


def restart_count(pod: Obj) -> int:
    return sum(
        int(cs.get("restartCount") or 0)
        for cs in (pod.get("status") or {}).get("containerStatuses") or []
    )


def node_name(pod: Obj) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


def deletion_rank(pod: Obj, now: float) -> tuple[int, int, int, float, int, float]:
    """Sort key: pods that should be deleted first sort first.

    Kubernetes' order: unscheduled before scheduled; Pending before Unknown before Running;
    not ready before ready; ready more recently before ready longer; more restarts first;
    newer before older.
    """
    p = phase(pod)
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(p, 0)
    since = ready_since(pod)
    return (
        1 if node_name(pod) else 0,
        phase_rank,
        1 if since is not None else 0,
        -(since or 0.0),
        -restart_count(pod),
        -creation_time(pod),
    )


def sort_for_deletion(pods: list[Obj], now: float) -> list[Obj]:
    """Pods ordered so that the first ones are the cheapest to delete."""
    return sorted(pods, key=lambda p: (deletion_rank(p, now), meta(p).get("name", "")))


def pod_from_template(
    owner: Obj,
    template: Obj,
    name: str,
    *,
    extra_labels: dict[str, str] | None = None,
) -> Obj:
    """A Pod built from a pod template, owned (controller: true) by ``owner``."""
    tmeta = template.get("metadata") or {}
    labels = {**(tmeta.get("labels") or {}), **(extra_labels or {})}
    pmeta: Obj = {
        "name": name,
        "namespace": meta(owner).get("namespace"),
        "labels": labels,
        "ownerReferences": [
            {
                "apiVersion": owner.get("apiVersion", ""),
                "kind": owner.get("kind", ""),
                "name": meta(owner).get("name", ""),
                "uid": meta(owner).get("uid", ""),
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ],
    }
    if tmeta.get("annotations"):
        pmeta["annotations"] = dict(tmeta["annotations"])
    if tmeta.get("finalizers"):
        pmeta["finalizers"] = list(tmeta["finalizers"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pmeta,
        "spec": dict(template.get("spec") or {}),
    }
