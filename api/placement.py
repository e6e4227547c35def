"""Which nodes a pod may be placed on, by its own spec: node selector, required node
affinity and taints it tolerates. The scheduler's filters and the DaemonSet controller
decide by these same rules (Kubernetes' component-helpers scheduling predicates)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from api.selectors import match_node_selector_terms

Obj = Mapping[str, Any]

FILTER_EFFECTS = ("NoSchedule", "NoExecute")


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Kubernetes' ToleratesTaint: an empty effect matches every effect, an empty key with
    ``Exists`` matches every key, ``Exists`` ignores the value, ``Equal`` (default) compares it."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    op = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if op == "Exists":
        return True
    if op != "Equal":
        return False
    return (toleration.get("value") or "") == (taint.get("value") or "")


def tolerated(tolerations: Iterable[Obj], taint: Obj) -> bool:
    """True when any of ``tolerations`` tolerates ``taint``."""
    return any(tolerates(t, taint) for t in tolerations)


def untolerated_taint(
    tolerations: Iterable[Obj], taints: Iterable[Obj], effects: tuple[str, ...] = FILTER_EFFECTS
) -> Obj | None:
    """The first taint with one of ``effects`` that no toleration tolerates, or None."""
    tols = list(tolerations)
    for taint in taints:
        if taint.get("effect") in effects and not tolerated(tols, taint):
            return taint
    return None


def node_selector_matches(
    node_selector: Mapping[str, str] | None, labels: Mapping[str, str]
) -> bool:
    """``spec.nodeSelector``: every key must be present with exactly that value."""
    return all(labels.get(k) == v for k, v in (node_selector or {}).items())


def required_affinity(pod_spec: Obj) -> Obj | None:
    """``affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution``, if set."""
    affinity = pod_spec.get("affinity") or {}
    return (affinity.get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )


def affinity_matches(pod_spec: Obj, node: Obj) -> bool:
    """The pod's node selector and required node affinity both admit ``node``."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    if not node_selector_matches(pod_spec.get("nodeSelector"), labels):
        return False
    required = required_affinity(pod_spec)
    if required is None:
        return True
    return match_node_selector_terms(list(required.get("nodeSelectorTerms") or []), node)
