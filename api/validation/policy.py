"""Validation of the disruption and priority kinds: PodDisruptionBudget (policy/v1) and
PriorityClass (scheduling.k8s.io/v1), with kube-apiserver's rules and wording."""

from __future__ import annotations

from typing import Any

from api.selectors import LabelSelector
from api.validation.common import Errs, as_dict, forbidden, int_or_percent, invalid, unsupported

Obj = dict[str, Any]

UNHEALTHY_POD_EVICTION_POLICIES = ("IfHealthyBudget", "AlwaysAllow")
PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
# Users may go up to a billion; above that is for the built-in system classes.
HIGHEST_USER_DEFINABLE_PRIORITY = 1_000_000_000
SYSTEM_CLUSTER_CRITICAL = "system-cluster-critical"
SYSTEM_NODE_CRITICAL = "system-node-critical"
# The built-in classes, created by the apiserver at its first start (Kubernetes' values).
SYSTEM_PRIORITY_CLASSES: dict[str, int] = {
    SYSTEM_CLUSTER_CRITICAL: 2_000_000_000,
    SYSTEM_NODE_CRITICAL: 2_000_001_000,
}


def validate_pod_disruption_budget(errs: Errs, obj: Obj) -> None:
    """minAvailable xor maxUnavailable (each a number >= 0 or a percent <= 100%), a
    parseable selector, and a known unhealthyPodEvictionPolicy."""
    spec = obj.get("spec")
    if spec is None:
        return
    if not isinstance(spec, dict):
        invalid(errs, "spec", spec, "must be an object")
        return
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    if min_available is not None and max_unavailable is not None:
        invalid(
            errs,
            "spec",
            spec,
            "minAvailable and maxUnavailable cannot be both set; keep one of them",
        )
    int_or_percent(errs, "spec.minAvailable", min_available, 100)
    int_or_percent(errs, "spec.maxUnavailable", max_unavailable, 100)
    sel = spec.get("selector")
    if sel is not None:
        if not isinstance(sel, dict):
            invalid(
                errs, "spec.selector", sel, "must be a label selector (matchLabels: {app: web})"
            )
        else:
            try:
                LabelSelector.from_dict(sel)
            except ValueError as exc:
                invalid(errs, "spec.selector", sel, str(exc))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        unsupported(
            errs, "spec.unhealthyPodEvictionPolicy", policy, UNHEALTHY_POD_EVICTION_POLICIES
        )


def validate_priority_class(errs: Errs, obj: Obj) -> None:
    """An integer value (at most a billion unless it is a built-in system class), the
    ``system-`` prefix reserved, and a known preemptionPolicy."""
    name = str(as_dict(obj.get("metadata")).get("name") or "")
    value = obj.get("value")
    if isinstance(value, bool) or not isinstance(value, int):
        invalid(errs, "value", value, "must be an integer (e.g. value: 1000)")
    elif name in SYSTEM_PRIORITY_CLASSES:
        if value != SYSTEM_PRIORITY_CLASSES[name]:
            invalid(
                errs,
                "value",
                value,
                f"{name} is a built-in class; its value is {SYSTEM_PRIORITY_CLASSES[name]}",
            )
    elif value > HIGHEST_USER_DEFINABLE_PRIORITY:
        invalid(
            errs,
            "value",
            value,
            f"maximum allowed value of a user defined priority is "
            f"{HIGHEST_USER_DEFINABLE_PRIORITY}",
        )
    if name.startswith("system-") and name not in SYSTEM_PRIORITY_CLASSES:
        invalid(
            errs,
            "metadata.name",
            name,
            "priority class names with 'system-' prefix are reserved; choose another name",
        )
    gd = obj.get("globalDefault")
    if gd is not None and not isinstance(gd, bool):
        invalid(errs, "globalDefault", gd, "must be true or false")
    policy = obj.get("preemptionPolicy")
    if policy is not None and policy not in PREEMPTION_POLICIES:
        unsupported(errs, "preemptionPolicy", policy, PREEMPTION_POLICIES)


def validate_priority_class_update(errs: Errs, new: Obj, old: Obj) -> None:
    """value and preemptionPolicy are immutable: pods already hold the old ones."""
    if new.get("value") != old.get("value"):
        forbidden(errs, "value", "may not be changed in an update; create a new PriorityClass")
    if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
        invalid(
            errs,
            "preemptionPolicy",
            new.get("preemptionPolicy"),
            "field is immutable; create a new PriorityClass",
        )
