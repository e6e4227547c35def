"""Validation of LimitRange (core/v1) as kube-apiserver's ValidateLimitRange, after the
item defaults (api/limitrange.py): one item per type, known resource names, and
min <= defaultRequest <= default <= max, maxLimitRequestRatio >= 1."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.limitrange import LIMIT_TYPES
from api.quantity import format_quantity
from api.validation.common import Errs, duplicate, forbidden, invalid, required, unsupported
from api.validation.quota import check_amounts, is_extended

Obj = dict[str, Any]


def _limit_resource_error(kind: str, name: str) -> str | None:
    if kind == "PersistentVolumeClaim":
        return None if name == "storage" else "a claim's bounds are on storage only"
    if name in ("cpu", "memory", "ephemeral-storage") or is_extended(name):
        return None
    return (
        "must be a container resource: cpu, memory, ephemeral-storage or an extended "
        "resource such as nvidia.com/gpu"
    )


def _fmt(q: Decimal) -> str:
    return format_quantity(q)


def validate_limit_range(errs: Errs, obj: Obj) -> None:
    """As ValidateLimitRange: one item per type, known resource names, and
    min <= defaultRequest <= default <= max, ratio >= 1 (after the item defaults)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec.limits", "a LimitRange needs spec.limits (a list of items)")
        return
    limits = spec.get("limits")
    if not isinstance(limits, list):
        invalid(errs, "spec.limits", limits, "must be a list of {type, min, max, default, ...}")
        return
    seen: set[str] = set()
    for i, item in enumerate(limits):
        f = f"spec.limits[{i}]"
        if not isinstance(item, dict):
            invalid(errs, f, item, "must be an object")
            continue
        kind = item.get("type")
        if kind not in LIMIT_TYPES:
            unsupported(errs, f"{f}.type", kind, LIMIT_TYPES)
            continue
        if kind in seen:
            duplicate(errs, f"{f}.type", kind, "one item per type")
        seen.add(str(kind))
        fields = ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
        values: dict[str, dict[str, Decimal]] = {}
        for fld in fields:
            raw = item.get(fld)
            values[fld] = {}
            if (
                kind in ("Pod", "PersistentVolumeClaim")
                and fld in ("default", "defaultRequest")
                and raw
            ):
                forbidden(errs, f"{f}.{fld}", f"may not be specified when `type` is '{kind}'")
                continue
            if kind == "PersistentVolumeClaim" and fld == "maxLimitRequestRatio" and raw:
                forbidden(
                    errs,
                    f"{f}.{fld}",
                    "may not be specified when `type` is 'PersistentVolumeClaim'",
                )
                continue
            if isinstance(raw, dict):
                for k in raw:
                    why = _limit_resource_error(str(kind), str(k))
                    if why is not None:
                        invalid(errs, f"{f}.{fld}[{k}]", k, why)
            values[fld] = check_amounts(errs, f"{f}.{fld}", raw, False)
        if kind == "PersistentVolumeClaim" and not (
            "storage" in values["min"] or "storage" in values["max"]
        ):
            required(
                errs,
                f"{f}.limits",
                "either minimum or maximum storage value is required, but neither was provided",
            )
        low, high = values["min"], values["max"]
        dflt, dreq, ratio = (
            values["default"],
            values["defaultRequest"],
            values["maxLimitRequestRatio"],
        )
        for k in sorted(set().union(*values.values())):
            if k in low and k in high and low[k] > high[k]:
                invalid(
                    errs,
                    f"{f}.min[{k}]",
                    _fmt(low[k]),
                    f"min value {_fmt(low[k])} is greater than max value {_fmt(high[k])}",
                )
            if k in dreq and k in low and low[k] > dreq[k]:
                invalid(
                    errs,
                    f"{f}.defaultRequest[{k}]",
                    _fmt(dreq[k]),
                    f"min value {_fmt(low[k])} is greater than default request value {_fmt(dreq[k])}",
                )
            if k in dreq and k in high and dreq[k] > high[k]:
                invalid(
                    errs,
                    f"{f}.defaultRequest[{k}]",
                    _fmt(dreq[k]),
                    f"default request value {_fmt(dreq[k])} is greater than max value {_fmt(high[k])}",
                )
            if k in dreq and k in dflt and dreq[k] > dflt[k]:
                invalid(
                    errs,
                    f"{f}.defaultRequest[{k}]",
                    _fmt(dreq[k]),
                    f"default request value {_fmt(dreq[k])} is greater than default limit value {_fmt(dflt[k])}",
                )
            if k in dflt and k in low and low[k] > dflt[k]:
                invalid(
                    errs,
                    f"{f}.default[{k}]",
                    _fmt(low[k]),
                    f"min value {_fmt(low[k])} is greater than default value {_fmt(dflt[k])}",
                )
            if k in dflt and k in high and dflt[k] > high[k]:
                invalid(
                    errs,
                    f"{f}.default[{k}]",
                    _fmt(dflt[k]),
                    f"default value {_fmt(dflt[k])} is greater than max value {_fmt(high[k])}",
                )
            if k in ratio and ratio[k] < 1:
                invalid(
                    errs,
                    f"{f}.maxLimitRequestRatio[{k}]",
                    _fmt(ratio[k]),
                    f"ratio {_fmt(ratio[k])} is less than 1",
                )
            if k in ratio and k in low and k in high and low[k] > 0 and ratio[k] > high[k] / low[k]:
                invalid(
                    errs,
                    f"{f}.maxLimitRequestRatio[{k}]",
                    _fmt(ratio[k]),
                    f"ratio {_fmt(ratio[k])} is greater than max/min = {float(high[k] / low[k]):f}",
                )
            if is_extended(k) and k in dflt and k in dreq and dflt[k] != dreq[k]:
                invalid(
                    errs,
                    f"{f}.defaultRequest[{k}]",
                    _fmt(dreq[k]),
                    f"default value {_fmt(dflt[k])} must equal to defaultRequest value {_fmt(dreq[k])} in {k}",
                )
