"""What the eviction subresource and the disruption controller agree on about a
PodDisruptionBudget: which budgets select a pod, and the DisruptionAllowed condition."""

from __future__ import annotations

from typing import Any

from api.selectors import LabelSelector

Obj = dict[str, Any]

CONDITION = "DisruptionAllowed"


def selects(pdb: Obj, labels: dict[str, str]) -> bool:
    """True when the budget's selector matches ``labels`` (a nil or broken one: never)."""
    try:
        sel = LabelSelector.from_dict((pdb.get("spec") or {}).get("selector"))
    except ValueError:
        return False
    return sel.matches(labels)


def budgets_for(pod: Obj, pdbs: list[Obj]) -> list[Obj]:
    """The budgets (of the pod's namespace) that select the pod."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    return [pdb for pdb in pdbs if selects(pdb, labels)]


def set_allowed_condition(status: Obj, allowed: bool, now: str) -> None:
    """Set ``DisruptionAllowed`` in ``status`` (SufficientPods / InsufficientPods), keeping
    its lastTransitionTime while the answer stays the same."""
    want = "True" if allowed else "False"
    old = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), None)
    since = old.get("lastTransitionTime") if old and old.get("status") == want else None
    cond: Obj = {"type": CONDITION, "status": want}
    if status.get("observedGeneration") is not None:
        cond["observedGeneration"] = status["observedGeneration"]
    cond.update(
        {
            "lastTransitionTime": since or now,
            "reason": "SufficientPods" if allowed else "InsufficientPods",
            "message": "",
        }
    )
    others = [c for c in status.get("conditions") or [] if c.get("type") != CONDITION]
    status["conditions"] = [*others, cond]
