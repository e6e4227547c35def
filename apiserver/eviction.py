"""The eviction subresource (pods/NAME/eviction) honouring PodDisruptionBudgets, as
Kubernetes' EvictionREST does.

A pod that does not count towards any budget (finished, never started, already being
deleted) is deleted at once. Otherwise the one PodDisruptionBudget selecting it is
checked and its ``status.disruptionsAllowed`` decremented in the same write, inside the
store's serialised mutation: two evictions racing for the last allowed disruption see
each other, and the second is refused with 429 TooManyRequests (kubectl drain retries
it). The pod is recorded in ``status.disruptedPods`` until the disruption controller
sees it go, so the controller does not hand the same disruption out again meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from api.disruption import set_allowed_condition
from api.errors import ApiError, Cause
from apiserver.ids import now_rfc3339

Obj = dict[str, Any]

PDB_RESOURCE = "policy/poddisruptionbudgets"
# Kubernetes' limit on pods awaiting their deletion in one budget's status.
MAX_DISRUPTED_PODS = 2000
VIOLATION = "Cannot evict pod as it would violate the pod's disruption budget."


def ignores_budgets(pod: Obj) -> bool:
    """A pod whose eviction disrupts nothing: finished, still Pending, or already going."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(
        (pod.get("metadata") or {}).get("deletionTimestamp")
    )


def pod_is_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def _too_many_requests(name: str, cause: str) -> ApiError:
    err = ApiError(429, VIOLATION, "TooManyRequests")
    err.causes = [Cause("", cause, "DisruptionBudget")]
    err.name = name
    err.kind = "poddisruptionbudgets"
    err.group = "policy"
    return err


def unhealthy_may_go(pod: Obj, pdb: Obj) -> bool:
    """An unready pod may be evicted without spending a disruption: always under
    ``AlwaysAllow``, and under ``IfHealthyBudget`` (the default) while the budget holds."""
    if pod_is_ready(pod):
        return False
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    if spec.get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    healthy, desired = (
        int(status.get("currentHealthy") or 0),
        int(status.get("desiredHealthy") or 0),
    )
    return desired > 0 and healthy >= desired


def take_disruption(pod_name: str, dry_run: bool) -> Callable[[Obj | None], Obj]:
    """The PDB write of one eviction: refuse (429) when the budget allows no disruption,
    else spend one and remember the pod. Runs inside the store's mutation."""

    def compute(pdb: Obj | None) -> Obj:
        if pdb is None:
            raise ApiError(
                409, "the pod's PodDisruptionBudget was deleted meanwhile: try again", "Conflict"
            )
        name = pdb["metadata"]["name"]
        status = pdb.setdefault("status", {})
        generation = int(pdb["metadata"].get("generation") or 0)
        if int(status.get("observedGeneration") or 0) < generation:
            raise _too_many_requests(
                name, f"The disruption budget {name} is still being processed by the server."
            )
        allowed = int(status.get("disruptionsAllowed") or 0)
        if allowed < 0:
            raise ApiError(403, "pdb disruptions allowed is negative", "Forbidden")
        disrupted = dict(status.get("disruptedPods") or {})
        if len(disrupted) > MAX_DISRUPTED_PODS:
            raise ApiError(
                403,
                "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
                "Forbidden",
            )
        if allowed == 0:
            raise _too_many_requests(
                name,
                f"The disruption budget {name} needs {int(status.get('desiredHealthy') or 0)} "
                f"healthy pods and has {int(status.get('currentHealthy') or 0)} currently",
            )
        status["disruptionsAllowed"] = allowed - 1
        if allowed - 1 == 0:
            set_allowed_condition(status, False, now_rfc3339())
        if not dry_run:
            disrupted[pod_name] = now_rfc3339()
            status["disruptedPods"] = disrupted
        return pdb

    return compute


def stored_budgets(store: Any, namespace: str) -> list[Obj]:
    """The namespace's PodDisruptionBudgets, as committed."""
    _, rows = store.list_raw(PDB_RESOURCE, namespace=namespace)
    return [orjson.loads(r) for r in rows]
