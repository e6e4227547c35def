"""LimitRange, pure: the item defaults Kubernetes' API applies, the defaults its LimitRanger
admission gives a new pod's containers, and the bounds (min, max, maxLimitRequestRatio) it
enforces per Container, per Pod and per PersistentVolumeClaim, with upstream's messages
("maximum cpu usage per Container is 2, but limit is 4")."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from api.quantity import format_quantity, parse_quantity
from api.quota import pod_resources

Obj = dict[str, Any]

LIMIT_TYPES = ("Container", "Pod", "PersistentVolumeClaim")
ANNOTATION = "kubernetes.io/limit-ranger"


def default_limit_range(obj: Obj) -> None:
    """SetDefaults_LimitRangeItem: for a Container item, a default limit from ``max``, a
    default request from ``default`` and then from ``min``."""
    spec = obj.get("spec")
    limits = spec.get("limits") if isinstance(spec, dict) else None
    for item in limits if isinstance(limits, list) else []:
        if not isinstance(item, dict) or item.get("type") != "Container":
            continue
        if any(not isinstance(item.get(f), dict | None) for f in ("max", "min")):
            continue  # validation says what is wrong with it
        default = item.get("default")
        if not isinstance(default, dict):
            default = item["default"] = {}
        request = item.get("defaultRequest")
        if not isinstance(request, dict):
            request = item["defaultRequest"] = {}
        for k, v in (item.get("max") or {}).items():
            default.setdefault(k, v)
        for k, v in default.items():
            request.setdefault(k, v)
        for k, v in (item.get("min") or {}).items():
            request.setdefault(k, v)
        if not default:
            del item["default"]
        if not request:
            del item["defaultRequest"]


def _items(ranges: Iterable[Obj], kind: str) -> list[Obj]:
    return [
        item
        for lr in ranges
        for item in (lr.get("spec") or {}).get("limits") or []
        if isinstance(item, dict) and item.get("type") == kind
    ]


def _merge(container: Obj, defaults: Obj, field: str, word: str) -> list[str]:
    res = container.get("resources")
    if not isinstance(res, dict):
        res = container["resources"] = {}
    values = res.get(field)
    if not isinstance(values, dict):
        values = {}
    set_names = [k for k in sorted(defaults) if k not in values]
    for k in set_names:
        values[k] = str(defaults[k])
    if values:
        res[field] = values
    return [f"{', '.join(set_names)} {word}"] if set_names else []


def apply_container_defaults(pod: Obj, ranges: Iterable[Obj]) -> bool:
    """Give each container the ``default`` limits and ``defaultRequest`` requests it does
    not set, and record what was set in the ``kubernetes.io/limit-ranger`` annotation, as
    Kubernetes does. True when anything changed."""
    limits: Obj = {}
    requests: Obj = {}
    for item in _items(ranges, "Container"):
        limits.update(item.get("default") or {})
        requests.update(item.get("defaultRequest") or {})
    if not limits and not requests:
        return False
    spec = pod.get("spec") or {}
    notes: list[str] = []
    for key, prefix in (("initContainers", "init container"), ("containers", "container")):
        for c in spec.get(key) or []:
            if not isinstance(c, dict):
                continue
            set_requests = _merge(c, requests, "requests", f"request for {prefix} {c.get('name')}")
            set_limits = _merge(c, limits, "limits", f"limit for {prefix} {c.get('name')}")
            notes.extend(set_requests + set_limits)
            if not (c.get("resources") or {}):
                c.pop("resources", None)
    if not notes:
        return False
    meta = pod.setdefault("metadata", {})
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = meta["annotations"] = {}
    annotations[ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
    return True


def _q(values: Any, name: str) -> tuple[str, Decimal] | None:
    if not isinstance(values, dict) or name not in values:
        return None
    try:
        return str(values[name]), parse_quantity(values[name])
    except (ValueError, ArithmeticError):
        return None


def _shown(value: Any) -> str:
    try:
        return format_quantity(value)
    except (ValueError, ArithmeticError):
        return str(value)


def _bounds(item: Obj, kind: str, requests: Any, limits: Any, request_only: bool) -> list[str]:
    """The broken bounds of one item for one set of requests/limits, in resource order."""
    errs: list[str] = []
    for name, enforced in sorted((item.get("min") or {}).items()):
        low = parse_quantity(enforced)
        shown = _shown(enforced)
        req, lim = _q(requests, name), _q(limits, name)
        if req is None:
            errs.append(f"minimum {name} usage per {kind} is {shown}.  No request is specified")
        elif req[1] < low:
            errs.append(f"minimum {name} usage per {kind} is {shown}, but request is {req[0]}")
        elif lim is not None and lim[1] < low:
            errs.append(f"minimum {name} usage per {kind} is {shown}, but limit is {lim[0]}")
    for name, enforced in sorted((item.get("max") or {}).items()):
        high = parse_quantity(enforced)
        shown = _shown(enforced)
        req, lim = _q(requests, name), _q(limits, name)
        if request_only:
            if req is None:
                errs.append(f"maximum {name} usage per {kind} is {shown}.  No request is specified")
            elif req[1] > high:
                errs.append(f"maximum {name} usage per {kind} is {shown}, but request is {req[0]}")
            continue
        if lim is None:
            errs.append(f"maximum {name} usage per {kind} is {shown}.  No limit is specified")
        elif lim[1] > high:
            errs.append(f"maximum {name} usage per {kind} is {shown}, but limit is {lim[0]}")
        elif req is not None and req[1] > high:
            errs.append(f"maximum {name} usage per {kind} is {shown}, but request is {req[0]}")
    for name, enforced in sorted((item.get("maxLimitRequestRatio") or {}).items()):
        ratio = parse_quantity(enforced)
        shown = _shown(enforced)
        req, lim = _q(requests, name), _q(limits, name)
        head = f"{name} max limit to request ratio per {kind} is {shown}"
        if req is None or req[1] == 0:
            errs.append(f"{head}, but no request is specified or request is 0")
        elif lim is None or lim[1] == 0:
            errs.append(f"{head}, but no limit is specified or limit is 0")
        elif lim[1] / req[1] > ratio:
            errs.append(f"{head}, but provided ratio is {float(lim[1] / req[1]):f}")
    return errs


def _as_strings(values: dict[str, Decimal]) -> dict[str, str]:
    return {k: format_quantity(v) for k, v in values.items()}


def pod_violations(pod: Obj, ranges: Iterable[Obj]) -> list[str]:
    """Every bound the pod breaks: per container (and init container), then per pod."""
    ranges = list(ranges)
    spec = pod.get("spec") or {}
    errs: list[str] = []
    for item in _items(ranges, "Container"):
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or []:
                res = (c or {}).get("resources") or {}
                errs.extend(
                    _bounds(item, "Container", res.get("requests"), res.get("limits"), False)
                )
    for item in _items(ranges, "Pod"):
        requests = _as_strings(pod_resources(pod, "requests"))
        limits = _as_strings(pod_resources(pod, "limits"))
        errs.extend(_bounds(item, "Pod", requests, limits, False))
    return errs


def claim_violations(pvc: Obj, ranges: Iterable[Obj]) -> list[str]:
    """The bounds on ``spec.resources.requests`` a claim breaks (its limits are not read,
    as upstream)."""
    requests = ((pvc.get("spec") or {}).get("resources") or {}).get("requests")
    errs: list[str] = []
    for item in _items(ranges, "PersistentVolumeClaim"):
        bounded = {k: v for k, v in item.items() if k in ("min", "max")}
        errs.extend(_bounds(bounded, "PersistentVolumeClaim", requests, {}, True))
    return errs


def aggregate(errs: list[str]) -> str:
    """utilerrors.NewAggregate's text: one error as is, several as ``[a, b]``."""
    return errs[0] if len(errs) == 1 else f"[{', '.join(errs)}]"
