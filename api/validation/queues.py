"""Validation of scheduling.kubelab.io/v1 Queue: whole, non-negative GPU, CPU and memory
amounts, only those three resources, and a non-negative grace period."""

from __future__ import annotations

from typing import Any

from api.gpus import GPU_RESOURCE
from api.quantity import is_quantity, parse_quantity
from api.validation.common import Errs, check_int, invalid, required, unsupported

Obj = dict[str, Any]

QUEUE_RESOURCES = (GPU_RESOURCE, "cpu", "memory")


def _check_amounts(errs: Errs, field: str, value: Any) -> None:
    if not isinstance(value, dict):
        invalid(errs, field, value, "must be a map of resource to quantity")
        return
    for name, q in value.items():
        path = f"{field}[{name}]"
        if name not in QUEUE_RESOURCES:
            unsupported(errs, path, name, QUEUE_RESOURCES)
            continue
        if not is_quantity(q):
            invalid(errs, path, q, "must be a quantity (e.g. 4, 500m, 64Gi)")
            continue
        amount = parse_quantity(q)
        if amount < 0:
            invalid(errs, path, q, "must be greater than or equal to 0")
        elif name == GPU_RESOURCE and amount != amount.to_integral_value():
            invalid(errs, path, q, "must be a whole number of GPUs")


def validate_queue(errs: Errs, obj: Obj) -> None:
    """``spec.nominal`` (GPUs required), optional ``spec.borrowingLimit`` and
    ``spec.reclaimGracePeriodSeconds``."""
    spec = obj.get("spec")
    if not isinstance(spec, dict) or "nominal" not in spec:
        required(errs, "spec.nominal", f"give the queue's share, e.g. {{{GPU_RESOURCE}: 4}}")
        return
    nominal = spec["nominal"]
    _check_amounts(errs, "spec.nominal", nominal)
    if isinstance(nominal, dict) and GPU_RESOURCE not in nominal:
        required(errs, f"spec.nominal[{GPU_RESOURCE}]", "give the queue's GPUs (0 for none)")
    if spec.get("borrowingLimit") is not None:
        _check_amounts(errs, "spec.borrowingLimit", spec["borrowingLimit"])
    check_int(errs, "spec.reclaimGracePeriodSeconds", spec.get("reclaimGracePeriodSeconds"), 0)
