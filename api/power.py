"""Power state of a lab box, as the autoscaler records it on the Node (docs/autoscaler.md).

A powered-off node stays in the API with the ``kubelab.io/asleep:NoSchedule`` taint and a
condition of type ``Asleep``: True while it is off (reason ``Asleep``) or booting (reason
``Waking``), False once up (``Awake``) or while it is drained (``Draining``). Pure.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

ASLEEP_TAINT_KEY = "kubelab.io/asleep"
ASLEEP_TAINT: Obj = {"key": ASLEEP_TAINT_KEY, "effect": "NoSchedule"}
ASLEEP_CONDITION = "Asleep"

DRIVER_ANNOTATION = "kubelab.io/power-driver"
GROUP_ANNOTATION = "kubelab.io/power-group"
SECRET_ANNOTATION = "kubelab.io/power-secret"
RESUME_TIMEOUT_ANNOTATION = "kubelab.io/power-resume-timeout"
DO_NOT_DISRUPT_ANNOTATION = "kubelab.io/do-not-disrupt"

ASLEEP = "Asleep"
WAKING = "Waking"
DRAINING = "Draining"
AWAKE = "Awake"


def asleep_condition(node: Obj) -> Obj | None:
    for c in (node.get("status") or {}).get("conditions") or ():
        if c.get("type") == ASLEEP_CONDITION:
            return dict(c)
    return None


def power_state(node: Obj) -> str:
    """``Asleep``, ``Waking``, ``Draining``, or ``Awake`` (also for a node never powered)."""
    cond = asleep_condition(node)
    if cond is None:
        return AWAKE
    reason = str(cond.get("reason") or "")
    if cond.get("status") == "True":
        return WAKING if reason == WAKING else ASLEEP
    return DRAINING if reason == DRAINING else AWAKE


def is_powered_down(node: Obj) -> bool:
    """True while the box is off or still booting: its silence is no failure."""
    return power_state(node) in (ASLEEP, WAKING)
