"""ResourceQuota arithmetic, pure: what an object charges to its namespace's quotas, which
pods a scoped quota covers, and the decision (with Kubernetes' wording) when a write would
take a namespace past ``spec.hard``.

Resource names as Kubernetes' quota evaluators read them:

- pods: ``pods`` and ``count/pods`` (1 per pod not yet Succeeded/Failed), ``requests.X``
  for every resource the containers request (``cpu``, ``memory``, ``ephemeral-storage``
  also as the bare name), ``limits.X`` for cpu, memory and ephemeral-storage; the pod's
  amount of a resource is the larger of its containers' sum and its largest init container;
- services: ``services``, ``services.nodeports`` (one per port of a NodePort or
  LoadBalancer Service), ``services.loadbalancers``;
- claims: ``persistentvolumeclaims``, ``requests.storage`` and the per-class
  ``<class>.storageclass.storage.k8s.io/requests.storage`` / ``.../persistentvolumeclaims``;
- any namespaced kind: ``count/<plural>.<group>`` (``count/<plural>`` for core), and
  ``configmaps``, ``secrets``, ``replicationcontrollers``, ``resourcequotas``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from api.quantity import format_quantity, parse_quantity

Obj = dict[str, Any]
ResourceList = dict[str, Decimal]

TERMINAL_PHASES = ("Succeeded", "Failed")
# Resources whose bare name also means their request (Kubernetes' legacy quota names).
_BARE_REQUEST = ("cpu", "memory", "ephemeral-storage")
_LIMITED = ("cpu", "memory", "ephemeral-storage")
# Kinds counted under a bare legacy name too.
_LEGACY_COUNTS = {
    "pods": "pods",
    "services": "services",
    "configmaps": "configmaps",
    "secrets": "secrets",
    "replicationcontrollers": "replicationcontrollers",
    "resourcequotas": "resourcequotas",
    "persistentvolumeclaims": "persistentvolumeclaims",
}
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
# The resources a pod charges that a scoped quota may limit, and that "must specify" covers.
COMPUTE_CONSTRAINED = (
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
)
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass")
# Served by Kubernetes but not here: refused by validation rather than accepted and ignored.
UNSUPPORTED_SCOPES = ("CrossNamespacePodAffinity", "VolumeAttributesClass")
SCOPE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def count_name(plural: str, group: str) -> str:
    """``count/deployments.apps``; ``count/pods`` for core kinds."""
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def _quantities(values: Any) -> ResourceList:
    out: ResourceList = {}
    if isinstance(values, dict):
        for k, v in values.items():
            try:
                out[str(k)] = parse_quantity(v)
            except (ValueError, ArithmeticError):
                continue  # validation refuses these; never counted
    return out


def _add(into: ResourceList, more: Mapping[str, Decimal]) -> None:
    for k, v in more.items():
        into[k] = into.get(k, Decimal(0)) + v


def _max(into: ResourceList, other: Mapping[str, Decimal]) -> None:
    for k, v in other.items():
        if v > into.get(k, Decimal(0)):
            into[k] = v


def _containers(spec: Obj, key: str) -> list[Obj]:
    return [c for c in spec.get(key) or [] if isinstance(c, dict)]


def pod_resources(pod: Obj, field: str) -> ResourceList:
    """The pod's ``requests`` or ``limits`` (``field``) per resource: the containers' sum
    or the largest init container, whichever is larger, plus ``spec.overhead``."""
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for c in _containers(spec, "containers"):
        _add(total, _quantities((c.get("resources") or {}).get(field)))
    for c in _containers(spec, "initContainers"):
        _max(total, _quantities((c.get("resources") or {}).get(field)))
    _add(total, _quantities(spec.get("overhead")))
    return total


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in TERMINAL_PHASES


def pod_usage(pod: Obj) -> ResourceList:
    """What a pod charges; nothing once it has finished (its resources are free again)."""
    if is_terminal(pod):
        return {}
    usage: ResourceList = {"pods": Decimal(1), "count/pods": Decimal(1)}
    for name, amount in pod_resources(pod, "requests").items():
        usage[f"requests.{name}"] = amount
        if name in _BARE_REQUEST:
            usage[name] = amount
    for name, amount in pod_resources(pod, "limits").items():
        if name in _LIMITED:
            usage[f"limits.{name}"] = amount
    return usage


def service_usage(svc: Obj) -> ResourceList:
    spec = svc.get("spec") or {}
    usage: ResourceList = {"services": Decimal(1), "count/services": Decimal(1)}
    stype = spec.get("type") or "ClusterIP"
    ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
    if stype == "LoadBalancer":
        usage["services.loadbalancers"] = Decimal(1)
    if stype == "NodePort" or (
        stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False
    ):
        usage["services.nodeports"] = Decimal(len(ports))
    return usage


def claim_usage(pvc: Obj) -> ResourceList:
    spec = pvc.get("spec") or {}
    usage: ResourceList = {
        "persistentvolumeclaims": Decimal(1),
        "count/persistentvolumeclaims": Decimal(1),
    }
    requested = _quantities((spec.get("resources") or {}).get("requests")).get("storage")
    # A resize in progress holds the larger of what is asked and what is allocated.
    allocated = _quantities((pvc.get("status") or {}).get("allocatedResources")).get("storage")
    storage = max((q for q in (requested, allocated) if q is not None), default=None)
    cls = spec.get("storageClassName")
    if storage is not None:
        usage["requests.storage"] = storage
    if cls:
        usage[f"{cls}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = Decimal(1)
        if storage is not None:
            usage[f"{cls}{STORAGE_CLASS_SUFFIX}requests.storage"] = storage
    return usage


def object_usage(plural: str, group: str, obj: Obj | None) -> ResourceList:
    """Everything one object of ``plural.group`` charges to its namespace's quotas."""
    if obj is None:
        return {}
    if group == "" and plural == "pods":
        return pod_usage(obj)
    if group == "" and plural == "services":
        return service_usage(obj)
    if group == "" and plural == "persistentvolumeclaims":
        return claim_usage(obj)
    usage: ResourceList = {count_name(plural, group): Decimal(1)}
    if group == "" and plural in _LEGACY_COUNTS:
        usage[_LEGACY_COUNTS[plural]] = Decimal(1)
    return usage


# -- scopes ---------------------------------------------------------------------------------


def is_best_effort(pod: Obj) -> bool:
    """Kubernetes' BestEffort QoS: no container asks for or caps cpu or memory."""
    spec = pod.get("spec") or {}
    for c in (*_containers(spec, "containers"), *_containers(spec, "initContainers")):
        res = c.get("resources") or {}
        for field in ("requests", "limits"):
            values = res.get(field) or {}
            if any(values.get(r) not in (None, "0", 0) for r in ("cpu", "memory")):
                return False
    return True


@dataclass(frozen=True)
class ScopeTerm:
    """One scope requirement: ``spec.scopes`` entries become ``Exists`` terms."""

    scope: str
    operator: str = "Exists"
    values: tuple[str, ...] = ()


def scope_terms(quota: Obj) -> list[ScopeTerm]:
    spec = quota.get("spec") or {}
    terms = [ScopeTerm(str(s)) for s in spec.get("scopes") or []]
    for e in ((spec.get("scopeSelector") or {}).get("matchExpressions")) or []:
        if isinstance(e, dict):
            terms.append(
                ScopeTerm(
                    str(e.get("scopeName")),
                    str(e.get("operator")),
                    tuple(str(v) for v in e.get("values") or []),
                )
            )
    return terms


def _term_matches(term: ScopeTerm, pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    if term.scope == "PriorityClass":
        name = spec.get("priorityClassName") or ""
        if term.operator == "Exists":
            return bool(name)
        if term.operator == "DoesNotExist":
            return not name
        if term.operator == "In":
            return name in term.values
        return name not in term.values  # NotIn
    if term.scope == "Terminating":
        hit = spec.get("activeDeadlineSeconds") is not None
    elif term.scope == "NotTerminating":
        hit = spec.get("activeDeadlineSeconds") is None
    elif term.scope == "BestEffort":
        hit = is_best_effort(pod)
    elif term.scope == "NotBestEffort":
        hit = not is_best_effort(pod)
    else:
        return False  # validation refuses other scopes
    return hit if term.operator != "DoesNotExist" else not hit


def covers(quota: Obj, plural: str, group: str, obj: Obj) -> bool:
    """Whether ``quota`` charges this object: every object for an unscoped quota, only
    the pods matching every scope term otherwise."""
    terms = scope_terms(quota)
    if not terms:
        return True
    if not (group == "" and plural == "pods"):
        return False
    return all(_term_matches(t, obj) for t in terms)


def hard_of(quota: Obj) -> ResourceList:
    return _quantities((quota.get("spec") or {}).get("hard"))


def quota_used(
    quota: Obj, usages: Iterable[tuple[Obj, ResourceList]], unscoped: ResourceList
) -> ResourceList:
    """``status.used`` of a quota: for each hard resource, the sum over the objects it
    covers. ``unscoped`` is the namespace's total (every object); ``usages`` the pods with
    what each charges, read only by a scoped quota."""
    hard = hard_of(quota)
    if scope_terms(quota):
        total: ResourceList = {}
        for pod, usage in usages:
            if covers(quota, "pods", "", pod):
                _add(total, usage)
    else:
        total = unscoped
    return {k: total.get(k, Decimal(0)) for k in hard}


# -- the admission decision -------------------------------------------------------------------


def show(values: Mapping[str, Decimal]) -> str:
    """Kubernetes' prettyPrint of a ResourceList: ``a=1,b=2Gi`` in name order."""
    return ",".join(f"{k}={format_quantity(values[k])}" for k in sorted(values))


def exceeded(
    quota: Obj, requested: Mapping[str, Decimal], used: Mapping[str, Decimal]
) -> str | None:
    """The reason ``requested`` more (only what grows) would break ``quota``, worded as
    Kubernetes' ResourceQuota admission, or None when it fits."""
    hard = hard_of(quota)
    over = sorted(
        k
        for k, amount in requested.items()
        if k in hard and amount > 0 and used.get(k, Decimal(0)) + amount > hard[k]
    )
    if not over:
        return None
    name = (quota.get("metadata") or {}).get("name")
    return (
        f"exceeded quota: {name}, requested: {show({k: requested[k] for k in over})}, "
        f"used: {show({k: used.get(k, Decimal(0)) for k in over})}, "
        f"limited: {show({k: hard[k] for k in over})}"
    )


def _container_charges(c: Obj) -> set[str]:
    res = c.get("resources") or {}
    names: set[str] = set()
    for r in res.get("requests") or {}:
        names.add(f"requests.{r}")
        if r in _BARE_REQUEST:
            names.add(r)
    for r in res.get("limits") or {}:
        names.add(f"limits.{r}")
    return names


def missing_constraints(quota: Obj, pod: Obj) -> str | None:
    """Kubernetes' pod Constraints: a quota on cpu or memory (requests or limits) needs
    every container to set that value. ``must specify limits.cpu for: app`` or None."""
    required = set(hard_of(quota)) & set(COMPUTE_CONSTRAINED)
    if not required:
        return None
    spec = pod.get("spec") or {}
    missing: dict[str, set[str]] = {}
    for c in (*_containers(spec, "containers"), *_containers(spec, "initContainers")):
        for r in required - _container_charges(c):
            missing.setdefault(r, set()).add(str(c.get("name")))
    if not missing:
        return None
    return "must specify " + "; ".join(
        f"{r} for: {','.join(sorted(missing[r]))}" for r in sorted(missing)
    )


def growth(old: Mapping[str, Decimal], new: Mapping[str, Decimal]) -> ResourceList:
    """What a write adds (positive deltas only): an update is checked only where usage grows."""
    return {k: v - old.get(k, Decimal(0)) for k, v in new.items() if v > old.get(k, Decimal(0))}


def status_rows(quota: Obj) -> list[tuple[str, str, str]]:
    """``(resource, used, hard)`` from the quota's status, in resource-name order, as
    kubectl's printer and describer list them (a resource not yet counted shows 0)."""
    status = quota.get("status") or {}
    hard = status.get("hard") or {}
    used = status.get("used") or {}
    return [(k, str(used.get(k, "0")), str(hard[k])) for k in sorted(hard)]


def status_of(hard: Mapping[str, Decimal], used: Mapping[str, Decimal]) -> Obj:
    """The ``status`` the resourcequota controller writes: canonical quantities."""
    return {
        "hard": {k: format_quantity(v) for k, v in sorted(hard.items())},
        "used": {k: format_quantity(used.get(k, Decimal(0))) for k in sorted(hard)},
    }


def request_limit_cells(quota: Obj) -> tuple[str, str]:
    """kubectl's REQUEST and LIMIT cells: ``pods: 1/10, requests.cpu: 500m/2`` and the
    ``limits.*`` resources, from the quota's status."""
    request: list[str] = []
    limit: list[str] = []
    for name, used, hard in status_rows(quota):
        into = limit if "." in name and name.split(".")[0] == "limits" else request
        into.append(f"{name}: {used}/{hard}")
    return ", ".join(request), ", ".join(limit)
