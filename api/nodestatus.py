"""A node's STATUS cell, the same in ``kl get nodes`` and in the apiserver's Table (which
kubectl prints). Pure.

As kubectl: ``Ready`` or ``NotReady`` from the Ready condition (anything but True is
NotReady), ``Unknown`` without one, ``,SchedulingDisabled`` when cordoned. kubelab adds the
lab autoscaler's power state (``api/power.py``): ``,Asleep`` while a box is off, ``,Waking``
while it boots, ``,Draining`` while it is emptied before a power-off, so a sleeping box
does not read as a broken one.
"""

from __future__ import annotations

from typing import Any

from api.power import ASLEEP, ASLEEP_TAINT_KEY, AWAKE, DRAINING, WAKING, power_state

Obj = dict[str, Any]


def power_suffix(node: Obj) -> str:
    """``Asleep``, ``Waking``, ``Draining`` or "" for a box that is simply up."""
    state = power_state(node)
    if state in (ASLEEP, WAKING, DRAINING):
        return state
    spec = node.get("spec") or {}
    tainted = any(t.get("key") == ASLEEP_TAINT_KEY for t in spec.get("taints") or ())
    if state == AWAKE and tainted and spec.get("unschedulable"):
        return DRAINING  # the autoscaler's drain: tainted and cordoned (docs/autoscaler.md)
    return ""


def node_status(node: Obj) -> str:
    """``Ready``, ``NotReady,Asleep``, ``Ready,SchedulingDisabled,Draining``, ..."""
    parts = ["Unknown"]  # no Ready condition at all
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            parts = ["Ready" if c.get("status") == "True" else "NotReady"]
    if (node.get("spec") or {}).get("unschedulable"):
        parts.append("SchedulingDisabled")
    power = power_suffix(node)
    if power:
        parts.append(power)
    return ",".join(parts)
