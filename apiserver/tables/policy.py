"""Table cells for PodDisruptionBudgets and PriorityClasses (upstream printers)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from apiserver.tables.format import AGE_COL, NAME_COL, Obj, age_cell, as_int, col, obj_name

PRIORITY_CLASS_COLUMNS = [
    NAME_COL,
    col(
        "Value",
        "value represents the integer value of this priority class. This is the actual "
        "priority that pods receive when they have the name of this class in their pod spec.",
        ctype="integer",
    ),
    col(
        "Global-Default",
        "globalDefault specifies whether this PriorityClass should be considered as the "
        "default priority for pods that do not have any priority class.",
        ctype="boolean",
    ),
    AGE_COL,
    col(
        "PreemptionPolicy",
        "preemptionPolicy is the Policy for preempting pods with lower priority. One of "
        "Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
    ),
]


def priority_class_cells(pc: Obj, now: datetime) -> list[Any]:
    return [
        obj_name(pc),
        as_int(pc.get("value")),
        pc.get("globalDefault") is True,
        age_cell(pc, now),
        pc.get("preemptionPolicy") or "",
    ]


PDB_COLUMNS = [
    NAME_COL,
    col("Min Available", "The minimum number of pods that must be available."),
    col("Max Unavailable", "The maximum number of pods that may be unavailable."),
    col(
        "Allowed Disruptions",
        "Calculated number of pods that may be disrupted at this time.",
        ctype="integer",
    ),
    AGE_COL,
]


def pdb_cells(pdb: Obj, now: datetime) -> list[Any]:
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    min_available, max_unavailable = spec.get("minAvailable"), spec.get("maxUnavailable")
    return [
        obj_name(pdb),
        "N/A" if min_available is None else str(min_available),
        "N/A" if max_unavailable is None else str(max_unavailable),
        as_int(status.get("disruptionsAllowed")),
        age_cell(pdb, now),
    ]
