"""Table cells for StatefulSets (upstream's statefulSetColumnDefinitions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiserver.tables.format import (
    AGE_COL,
    CONTAINERS_COLS,
    NAME_COL,
    Obj,
    age_cell,
    as_int,
    col,
    containers_cells,
    obj_name,
    template_spec,
)

# Upstream prints no selector for StatefulSets, only containers and images with -o wide.
STATEFULSET_COLUMNS = [
    NAME_COL,
    col("Ready", "Number of the pod with ready state"),
    AGE_COL,
    *CONTAINERS_COLS[:2],
]


def statefulset_cells(sts: Obj, now: datetime) -> list[Any]:
    spec, status = sts.get("spec") or {}, sts.get("status") or {}
    names, images = containers_cells(template_spec(sts))
    return [
        obj_name(sts),
        f"{as_int(status.get('readyReplicas'))}/{as_int(spec.get('replicas', 1))}",
        age_cell(sts, now),
        names,
        images,
    ]
