"""Deployment status: the counters and the Available/Progressing conditions kubectl reads.

``kubectl rollout status`` is done when observedGeneration ≥ generation, updatedReplicas ≥
replicas, replicas ≤ updatedReplicas and availableReplicas ≥ updatedReplicas, and fails when
Progressing has reason ProgressDeadlineExceeded (API-COMPAT §7).
"""

from __future__ import annotations

import re
from typing import Any

from ..objutil import Obj, format_time, get_condition, meta, name_of, parse_time, set_condition
from .util import spec_replicas, status_int, surge_and_unavailable

NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


def condition(ctype: str, status: str, reason: str, message: str, now: float) -> Obj:
    t = format_time(now)
    return {
        "type": ctype,
        "status": status,
        "lastUpdateTime": t,
        "lastTransitionTime": t,
        "reason": reason,
        "message": message,
    }


def counters(d: Obj, all_rss: list[Obj], new_rs: Obj | None) -> dict[str, Any]:
    """replicas / updated / ready / available / unavailable, summed over the ReplicaSets."""
    available = sum(status_int(rs, "availableReplicas") for rs in all_rss)
    return {
        "observedGeneration": int(meta(d).get("generation") or 0),
        "replicas": sum(status_int(rs, "replicas") for rs in all_rss),
        "updatedReplicas": status_int(new_rs, "replicas") if new_rs is not None else 0,
        "readyReplicas": sum(status_int(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(spec_replicas(d) - available, 0),
    }


def is_complete(d: Obj, st: dict[str, Any]) -> bool:
    """Every replica updated and available, nothing old left, spec observed."""
    r = spec_replicas(d)
    return (
        st["updatedReplicas"] == r
        and st["replicas"] == r
        and st["availableReplicas"] == r
        and st["observedGeneration"] >= int(meta(d).get("generation") or 0)
    )


def made_progress(old: Obj, st: dict[str, Any]) -> bool:
    """More pods updated, fewer old ones, or more ready/available than last time."""
    old_old = int(old.get("replicas") or 0) - int(old.get("updatedReplicas") or 0)
    new_old = st["replicas"] - st["updatedReplicas"]
    return (
        st["updatedReplicas"] > int(old.get("updatedReplicas") or 0)
        or new_old < old_old
        or st["readyReplicas"] > int(old.get("readyReplicas") or 0)
        or st["availableReplicas"] > int(old.get("availableReplicas") or 0)
    )


def _rs_in_message(cond: Obj | None) -> str:
    m = re.search(r'"([^"]+)"', (cond or {}).get("message", ""))
    return m.group(1) if m else ""


def progress_deadline(d: Obj) -> int | None:
    """``progressDeadlineSeconds`` (default 600); None when it is effectively unlimited."""
    v = (d.get("spec") or {}).get("progressDeadlineSeconds")
    v = 600 if v is None else int(v)
    return None if v >= 2**31 - 1 else v


def compute_status(
    d: Obj,
    all_rss: list[Obj],
    new_rs: Obj | None,
    now: float,
    *,
    created_rs_name: str = "",
) -> tuple[dict[str, Any], float | None]:
    """The new ``status`` and, when a deadline is pending, seconds until it falls."""
    old = dict(d.get("status") or {})
    st = counters(d, all_rss, new_rs)
    if old.get("collisionCount") is not None:
        st["collisionCount"] = old["collisionCount"]
    conds: list[Obj] = [dict(c) for c in old.get("conditions") or []]

    _, unavailable = surge_and_unavailable(d)
    if st["availableReplicas"] >= spec_replicas(d) - unavailable:
        avail = condition(
            "Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now
        )
    else:
        avail = condition(
            "Available",
            "False",
            MIN_UNAVAILABLE,
            "Deployment does not have minimum availability.",
            now,
        )
    cur_avail = get_condition(old, "Available")
    if (
        not cur_avail
        or cur_avail.get("status") != avail["status"]
        or cur_avail.get("reason") != avail["reason"]
    ):
        conds = set_condition(conds, avail)

    requeue: float | None = None
    deadline = progress_deadline(d)
    cur = get_condition(old, "Progressing")
    rs_name = created_rs_name or (name_of(new_rs) if new_rs is not None else "")
    new_prog: Obj | None = None
    paused = bool((d.get("spec") or {}).get("paused"))

    if paused:
        if not cur or cur.get("reason") != PAUSED:
            new_prog = condition("Progressing", "Unknown", PAUSED, "Deployment is paused", now)
    elif cur and cur.get("reason") == PAUSED:
        new_prog = condition("Progressing", "Unknown", RESUMED, "Deployment is resumed", now)
    elif deadline is None:
        conds = [c for c in conds if c.get("type") != "Progressing"]
    elif created_rs_name:
        new_prog = condition(
            "Progressing", "True", NEW_RS_CREATED, f'Created new replica set "{rs_name}"', now
        )
    elif rs_name and (cur is None or _rs_in_message(cur) != rs_name):
        # The template changed to one an existing RS already runs (rollback) or first sight.
        new_prog = condition(
            "Progressing", "True", FOUND_NEW_RS, f'Found new replica set "{rs_name}"', now
        )
    elif is_complete(d, st):
        if not cur or cur.get("reason") != NEW_RS_AVAILABLE:
            new_prog = condition(
                "Progressing",
                "True",
                NEW_RS_AVAILABLE,
                f'ReplicaSet "{rs_name}" has successfully progressed.',
                now,
            )
    elif made_progress(old, st):
        new_prog = condition(
            "Progressing", "True", RS_UPDATED, f'ReplicaSet "{rs_name}" is progressing.', now
        )
    elif cur and cur.get("reason") not in (NEW_RS_AVAILABLE, TIMED_OUT):
        since = parse_time(cur.get("lastUpdateTime")) or now
        if now >= since + deadline:
            new_prog = condition(
                "Progressing",
                "False",
                TIMED_OUT,
                f'ReplicaSet "{rs_name}" has timed out progressing.',
                now,
            )
        else:
            requeue = since + deadline - now + 0.05

    if new_prog is not None:
        conds = set_condition(conds, new_prog)
        if new_prog["reason"] not in (NEW_RS_AVAILABLE, TIMED_OUT, PAUSED) and deadline is not None:
            requeue = float(deadline) + 0.05
    # Conditions in a stable order: Available first, like kube.
    conds.sort(key=lambda c: {"Available": 0, "Progressing": 1}.get(c.get("type", ""), 2))
    st["conditions"] = conds
    return st, requeue
