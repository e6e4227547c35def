"""ReplicaSet controller: keep ``spec.replicas`` pods matching the selector running.

``reconcile`` is pure (ReplicaSet + the pods of its namespace + now → actions); the
``ReplicaSetController`` shell feeds it from the shared informers and applies the actions,
creating pods in slow-start batches and tracking expectations so a lagging informer does
not make it create twice.
"""

from __future__ import annotations

from typing import Any

from . import actions as A
from .claim import claim
from .objutil import (
    Obj,
    labels_of,
    meta,
    name_of,
    namespace_of,
    random_suffix,
    selector_matches,
    status_differs,
)
from .podutil import (
    is_active,
    is_available,
    is_ready,
    pod_from_template,
    ready_since,
    sort_for_deletion,
)

DEFAULT_BURST = 500


def desired_replicas(rs: Obj) -> int:
    r = (rs.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def new_pod(rs: Obj) -> Obj:
    """One pod for ``rs`` from its template, with a generated name."""
    template = (rs.get("spec") or {}).get("template") or {}
    return pod_from_template(rs, template, f"{name_of(rs)}-{random_suffix()}")


def compute_status(rs: Obj, pods: list[Obj], now: float) -> dict[str, Any]:
    """The status fields kubectl and the Deployment controller read."""
    spec = rs.get("spec") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    tlabels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    active = [p for p in pods if is_active(p)]
    return {
        "replicas": len(active),
        "fullyLabeledReplicas": sum(
            1 for p in active if all(labels_of(p).get(k) == v for k, v in tlabels.items())
        ),
        "readyReplicas": sum(1 for p in active if is_ready(p)),
        "availableReplicas": sum(1 for p in active if is_available(p, min_ready, now)),
        "observedGeneration": int(meta(rs).get("generation") or 0),
    }


def reconcile(
    rs: Obj,
    pods: list[Obj],
    now: float,
    *,
    expectations_satisfied: bool = True,
    burst: int = DEFAULT_BURST,
) -> A.Result:
    """One level-triggered step for ``rs`` given every pod in its namespace."""
    res = A.Result()
    spec = rs.get("spec") or {}
    selector = spec.get("selector")
    ns = namespace_of(rs)

    c = claim(rs, pods, "pods", lambda labels: selector_matches(selector, labels))
    res.actions.extend(c.actions)
    active = [p for p in c.owned if is_active(p)]

    if expectations_satisfied and not meta(rs).get("deletionTimestamp"):
        diff = len(active) - desired_replicas(rs)
        if diff < 0:
            for _ in range(min(-diff, burst)):
                pod = new_pod(rs)
                res.actions.append(A.create("pods", ns, pod))
        elif diff > 0:
            for pod in sort_for_deletion(active, now)[: min(diff, burst)]:
                res.actions.append(A.delete("pods", ns, name_of(pod)))

    status = compute_status(rs, c.owned, now)
    if status_differs(rs.get("status"), status):
        res.actions.append(
            A.patch("replicasets", ns, name_of(rs), {"status": status}, subresource="status")
        )

    # A pod that is ready but not yet available becomes available on its own: look again then.
    min_ready = int(spec.get("minReadySeconds") or 0)
    if min_ready > 0:
        for p in active:
            since = ready_since(p)
            if since is not None and since + min_ready > now:
                res.requeue(since + min_ready - now + 0.05)
    return res


def slow_start_batches(n: int, initial: int = 1) -> list[int]:
    """Batch sizes 1, 2, 4, … summing to ``n``: a broken template fails after one pod."""
    out: list[int] = []
    batch = min(n, initial)
    remaining = n
    while remaining > 0:
        out.append(batch)
        remaining -= batch
        batch = min(2 * batch, remaining)
    return out
