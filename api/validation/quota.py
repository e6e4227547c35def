"""Validation of ResourceQuota (core/v1) with kube-apiserver's rules and
wording. What kubelab does not enforce (scopes it has no evaluator for, extended
resources named without ``requests.``, hugepages) is refused, never stored and ignored."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api import registry
from api.quantity import parse_quantity
from api.quota import (
    SCOPE_OPERATORS,
    SCOPES,
    STORAGE_CLASS_SUFFIX,
    UNSUPPORTED_SCOPES,
)
from api.validation.common import (
    Errs,
    as_dict,
    duplicate,
    invalid,
    required,
    unsupported,
)

Obj = dict[str, Any]

STANDARD_QUOTA_RESOURCES = frozenset(
    {
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "requests.storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
)
_INTEGER_RESOURCES = frozenset(
    {
        "pods",
        "services",
        "replicationcontrollers",
        "resourcequotas",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    }
)
# What a pod charges: the only resources a scoped quota may limit.
_POD_RESOURCES = frozenset(
    {"pods", "count/pods", "cpu", "memory", "ephemeral-storage"}
    | {f"limits.{r}" for r in ("cpu", "memory", "ephemeral-storage")}
)
_POD_COUNT = frozenset({"pods", "count/pods"})
_NATIVE_DOMAINS = ("kubernetes.io", ".kubernetes.io")
_QUOTA_HINT = (
    "use a standard quota resource (pods, cpu, memory, requests.cpu, limits.memory, "
    "services, configmaps, secrets, persistentvolumeclaims, requests.storage, ...), "
    "count/<resource>.<group> or requests.<extended resource> such as requests.nvidia.com/gpu"
)


def is_extended(name: str) -> bool:
    """An extended resource name (``nvidia.com/gpu``): a domain outside kubernetes.io."""
    domain, slash, rest = name.partition("/")
    return bool(slash and rest and domain and not domain.endswith(_NATIVE_DOMAINS))


def quota_resource_error(name: str) -> str | None:
    """Why ``name`` cannot be a ResourceQuota key, or None."""
    if name in STANDARD_QUOTA_RESOURCES:
        return None
    if name.startswith("count/"):
        target = name[len("count/") :]
        plural, _, group = target.partition(".")
        info = registry.by_plural(group, plural)
        if info is None or not info.namespaced:
            return (
                f"kubelab serves no namespaced resource {target!r} to count: write "
                "count/<plural>.<group> (count/deployments.apps) or count/<plural> for core "
                "kinds (count/pods)"
            )
        return None
    if name.startswith("requests.") and is_extended(name[len("requests.") :]):
        return None
    if STORAGE_CLASS_SUFFIX in name:
        cls, _, res = name.partition(STORAGE_CLASS_SUFFIX)
        if cls and res in ("requests.storage", "persistentvolumeclaims"):
            return None
        return (
            "a storage class quota is <class>.storageclass.storage.k8s.io/requests.storage "
            "or .../persistentvolumeclaims"
        )
    bare = name[len("limits.") :] if name.startswith("limits.") else name
    if is_extended(bare):
        return (
            "extended resources cannot be overcommitted, so a quota limits their requests "
            f"only: use requests.{bare}"
        )
    return f"must be a standard resource for quota: {_QUOTA_HINT}"


def check_amounts(errs: Errs, field: str, values: Any, check_names: bool) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    if values is None:
        return out
    if not isinstance(values, dict):
        invalid(
            errs, field, values, "must be a map of resource name to quantity (cpu: 500m, pods: 10)"
        )
        return out
    for k, v in values.items():
        f = f"{field}[{k}]"
        if check_names:
            why = quota_resource_error(str(k))
            if why is not None:
                invalid(errs, f, k, why)
                continue
        try:
            q = parse_quantity(v)
        except (ValueError, ArithmeticError) as exc:
            invalid(errs, f, v, str(exc))
            continue
        if q < 0:
            invalid(errs, f, v, "must be greater than or equal to 0")
        elif (k in _INTEGER_RESOURCES or str(k).startswith("count/")) and q != int(q):
            invalid(errs, f, v, "must be an integer")
        out[str(k)] = q
    return out


def _check_scope_resources(errs: Errs, scope: str, hard: dict[str, Decimal]) -> None:
    allowed = _POD_COUNT if scope == "BestEffort" else None
    for k in hard:
        ok = (
            k in allowed
            if allowed is not None
            else k in _POD_RESOURCES or (k.startswith("requests.") and k != "requests.storage")
        )
        if not ok:
            invalid(
                errs,
                f"spec.hard[{k}]",
                k,
                f"unsupported scope applied to resource: a quota with scope {scope} counts "
                + (
                    "pods only (pods)"
                    if allowed
                    else "what pods use (pods, cpu, memory, requests.*, limits.*)"
                ),
            )


def _check_scope_name(errs: Errs, field: str, scope: Any) -> bool:
    if scope in SCOPES:
        return True
    if scope in UNSUPPORTED_SCOPES:
        invalid(
            errs,
            field,
            scope,
            f"kubelab does not enforce the {scope} scope: use one of {', '.join(SCOPES)}",
        )
    else:
        unsupported(errs, field, scope, SCOPES)
    return False


def validate_resource_quota(errs: Errs, obj: Obj) -> None:
    """Known resource names with quantities >= 0, known and compatible scopes, a valid
    scopeSelector, and a well-formed status."""
    spec = obj.get("spec")
    if spec is not None and not isinstance(spec, dict):
        invalid(errs, "spec", spec, "must be an object")
        spec = None
    spec = as_dict(spec)
    hard = check_amounts(errs, "spec.hard", spec.get("hard"), True)
    scopes: list[str] = []
    raw_scopes = spec.get("scopes")
    if raw_scopes is not None and not isinstance(raw_scopes, list):
        invalid(errs, "spec.scopes", raw_scopes, "must be a list (scopes: [NotTerminating])")
        raw_scopes = []
    for i, s in enumerate(raw_scopes or []):
        if _check_scope_name(errs, f"spec.scopes[{i}]", s):
            if s in scopes:
                duplicate(errs, f"spec.scopes[{i}]", s, "list each scope once")
            scopes.append(str(s))
    sel = spec.get("scopeSelector")
    if sel is not None:
        exprs = as_dict(sel).get("matchExpressions")
        if not isinstance(sel, dict) or not isinstance(exprs, list):
            invalid(
                errs,
                "spec.scopeSelector",
                sel,
                "must be {matchExpressions: [{scopeName: PriorityClass, operator: In, values: [high]}]}",
            )
            exprs = []
        for i, e in enumerate(exprs):
            f = f"spec.scopeSelector.matchExpressions[{i}]"
            e = as_dict(e)
            name, op, values = e.get("scopeName"), e.get("operator"), e.get("values") or []
            if not _check_scope_name(errs, f"{f}.scopeName", name):
                continue
            if op not in SCOPE_OPERATORS:
                invalid(
                    errs,
                    f"{f}.operator",
                    op,
                    "not a valid selector operator: In, NotIn, Exists or DoesNotExist",
                )
                continue
            if name != "PriorityClass" and op != "Exists":
                invalid(
                    errs,
                    f"{f}.operator",
                    op,
                    "must be 'Exist' when scope is any of ResourceQuotaScopeTerminating, "
                    "ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, "
                    "ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
                )
            if op in ("In", "NotIn") and not values:
                required(
                    errs,
                    f"{f}.values",
                    "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector",
                )
            if op in ("Exists", "DoesNotExist") and values:
                invalid(
                    errs,
                    f"{f}.values",
                    values,
                    "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector",
                )
            scopes.append(str(name))
    for a, b in (("Terminating", "NotTerminating"), ("BestEffort", "NotBestEffort")):
        if a in scopes and b in scopes:
            invalid(errs, "spec.scopes", sorted(set(scopes)), f"conflicting scopes: {a} and {b}")
    for s in sorted(set(scopes)):
        _check_scope_resources(errs, s, hard)
    status = obj.get("status")
    if status is not None:
        if not isinstance(status, dict):
            invalid(errs, "status", status, "must be an object")
        else:
            check_amounts(errs, "status.hard", status.get("hard"), False)
            check_amounts(errs, "status.used", status.get("used"), False)
