"""Table cells for ResourceQuotas and LimitRanges (upstream printers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.quota import request_limit_cells
from apiserver.tables.format import AGE_COL, NAME_COL, Obj, age_cell, col, obj_meta, obj_name

RESOURCE_QUOTA_COLUMNS = [
    NAME_COL,
    AGE_COL,
    col(
        "Request", "Request represents a minimum amount of cpu/memory that a container may consume."
    ),
    col(
        "Limit",
        "Limits control the maximum amount of cpu/memory that a container may use independent "
        "of contention on the node.",
    ),
]


def resource_quota_cells(quota: Obj, now: datetime) -> list[Any]:
    """``requests.cpu: 500m/2, pods: 1/10`` in REQUEST, the ``limits.*`` in LIMIT."""
    return [obj_name(quota), age_cell(quota, now), *request_limit_cells(quota)]


LIMIT_RANGE_COLUMNS = [
    NAME_COL,
    col(
        "Created At",
        "CreationTimestamp is a timestamp representing the server time when this object was "
        "created. It is not guaranteed to be set in happens-before order across separate "
        "operations. Clients may not set this value. It is represented in RFC3339 form and "
        "is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "
        "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        ctype="date",
    ),
]


def limit_range_cells(lr: Obj, now: datetime) -> list[Any]:
    return [obj_name(lr), str(obj_meta(lr).get("creationTimestamp") or "")]
