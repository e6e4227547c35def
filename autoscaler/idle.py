"""When an awake box may be powered off (pure): it has run nothing but DaemonSet pods,
none marked ``kubelab.io/do-not-disrupt: "true"``, for the whole idle window, and its
group stays at or above its minimum without it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.power import DO_NOT_DISRUPT_ANNOTATION

Obj = dict[str, Any]


def is_daemonset_pod(pod: Obj) -> bool:
    refs = (pod.get("metadata") or {}).get("ownerReferences") or ()
    return any(r.get("kind") == "DaemonSet" and r.get("controller") for r in refs)


def do_not_disrupt(pod: Obj) -> bool:
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    return str(ann.get(DO_NOT_DISRUPT_ANNOTATION, "")).lower() == "true"


def busy_reason(pods: Iterable[Obj]) -> str:
    """Why a box with these (active) pods is not idle; '' when it is."""
    for p in pods:
        name = (p.get("metadata") or {}).get("name", "")
        if do_not_disrupt(p):
            return f"pod {name} is marked {DO_NOT_DISRUPT_ANNOTATION}"
        if not is_daemonset_pod(p):
            return f"pod {name} runs here"
    return ""


def idle_since(previous: float | None, busy: str, now: float) -> float | None:
    """The start of the box's idle stretch: kept while idle, reset (None) when busy."""
    if busy:
        return None
    return now if previous is None else previous


def may_power_off(
    since: float | None, now: float, window: float, powered_on_in_group: int, group_min: int
) -> bool:
    """True once idle for ``window`` seconds with the group above its minimum."""
    return since is not None and now - since >= window and powered_on_in_group > group_min
