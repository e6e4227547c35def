"""How the autoscaler reads and marks a box's power state on its Node (pure).

A box is asleep or waking while its ``Asleep`` condition says so (api/power.py); the
kubelet of a box that boots replaces the node's conditions, which ends ``Waking``. The
``kubelab.io/asleep`` taint stays until the autoscaler sees the box Ready and lifts it. A
box being drained is tainted *and* cordoned (a sleeping box never is), so a drain that a
restart interrupted is found again on the Node itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from api.power import (
    ASLEEP,
    ASLEEP_CONDITION,
    ASLEEP_TAINT,
    ASLEEP_TAINT_KEY,
    GROUP_ANNOTATION,
    power_state,
)
from scheduler.podinfo import is_terminal

Obj = dict[str, Any]


def name_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def annotations_of(obj: Obj) -> Mapping[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def group_of(node: Obj) -> str:
    return str(annotations_of(node).get(GROUP_ANNOTATION, ""))


def has_asleep_taint(node: Obj) -> bool:
    taints = (node.get("spec") or {}).get("taints") or ()
    return any(t.get("key") == ASLEEP_TAINT_KEY for t in taints)


def is_cordoned(node: Obj) -> bool:
    return bool((node.get("spec") or {}).get("unschedulable"))


def is_draining(node: Obj) -> bool:
    """Tainted and cordoned: the autoscaler began to drain it."""
    return has_asleep_taint(node) and is_cordoned(node)


def is_unbound(pod: Obj) -> bool:
    """Waiting for a node: not bound, not finished, not being deleted."""
    return not (pod.get("spec") or {}).get("nodeName") and not is_terminal(pod)


def is_unschedulable(pod: Obj) -> bool:
    """The scheduler tried and found no node (PodScheduled False, Unschedulable)."""
    if not is_unbound(pod):
        return False
    for c in (pod.get("status") or {}).get("conditions") or ():
        if c.get("type") == "PodScheduled":
            return c.get("status") == "False" and c.get("reason") == "Unschedulable"
    return False


def pods_by_node(pods: Iterable[Obj]) -> dict[str, list[Obj]]:
    """The pods bound to each node that still run or stop there (finished ones left out)."""
    out: dict[str, list[Obj]] = {}
    for p in pods:
        node = (p.get("spec") or {}).get("nodeName")
        if node and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            out.setdefault(node, []).append(p)
    return out


def powered_on(nodes: Iterable[Obj]) -> dict[str, int]:
    """How many boxes of each power group are not asleep (up, waking or draining)."""
    out: dict[str, int] = {}
    for n in nodes:
        if power_state(n) != ASLEEP:
            out[group_of(n)] = out.get(group_of(n), 0) + 1
    return out


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def asleep_status_patch(node: Obj, status: str, reason: str, message: str, now: float) -> Obj:
    """The status patch that sets the ``Asleep`` condition; for ``Asleep`` also Ready
    False (a box that is off is not ready, and says why)."""
    t = rfc3339(now)
    conds = [
        dict(c)
        for c in (node.get("status") or {}).get("conditions") or []
        if c.get("type") != ASLEEP_CONDITION and not (reason == ASLEEP and c.get("type") == "Ready")
    ]

    def cond(ctype: str, cstatus: str) -> Obj:
        return {"type": ctype, "status": cstatus, "reason": reason, "message": message,
                "lastHeartbeatTime": t, "lastTransitionTime": t}  # fmt: skip

    conds.append(cond(ASLEEP_CONDITION, status))
    if reason == ASLEEP:
        conds.append(cond("Ready", "False"))
    return {"status": {"conditions": conds}}


def taint_patch(node: Obj, *, asleep: bool, cordon: bool | None = None) -> Obj:
    """The spec patch that sets or lifts the asleep taint, and the cordon unless
    ``cordon`` is None (an admin's cordon is left alone)."""
    taints = [
        t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") != ASLEEP_TAINT_KEY
    ]
    if asleep:
        taints.append(dict(ASLEEP_TAINT))
    spec: Obj = {"taints": taints or None}
    if cordon is not None:
        spec["unschedulable"] = True if cordon else None
    return {"spec": spec}
