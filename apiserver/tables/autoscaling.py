"""Table cells for HorizontalPodAutoscalers (upstream's printHorizontalPodAutoscaler)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.hpa import format_targets
from apiserver.tables.format import AGE_COL, NAME_COL, Obj, age_cell, col, obj_name

HPA_COLUMNS = [
    NAME_COL,
    col(
        "Reference",
        "scaleTargetRef points to the target resource to scale, and is used to the pods for "
        "which metrics should be collected, as well as to actually change the replica count.",
    ),
    col(
        "Targets",
        "metrics contains the specifications for which to use to calculate the desired "
        "replica count (the maximum replica count across all metrics will be used).",
    ),
    col(
        "MinPods",
        "minReplicas is the lower limit for the number of replicas to which the autoscaler "
        "can scale down.  It defaults to 1 pod.",
    ),
    col(
        "MaxPods",
        "maxReplicas is the upper limit for the number of replicas to which the autoscaler "
        "can scale up. It cannot be less that minReplicas.",
    ),
    col(
        "Replicas",
        "currentReplicas is current number of replicas of pods managed by this autoscaler, "
        "as last seen by the autoscaler.",
    ),
    AGE_COL,
]


def hpa_cells(hpa: Obj, now: datetime) -> list[Any]:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    return [
        obj_name(hpa),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        format_targets(hpa),
        "<unset>" if min_replicas is None else str(min_replicas),
        int(spec.get("maxReplicas") or 0),
        int(status.get("currentReplicas") or 0),
        age_cell(hpa, now),
    ]
