"""Table cells for scheduling.kubelab.io Queues (``kl get queues``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.gpus import GPU_RESOURCE
from apiserver.tables.format import AGE_COL, NAME_COL, Obj, age_cell, col, obj_name

QUEUE_COLUMNS = [
    NAME_COL,
    col("GPUs", "The queue's nominal share of GPUs.", ctype="integer"),
    col("Borrowing-Limit", "Most GPUs it may borrow beyond its share (none: any idle)."),
    col("In-Use", "GPUs its running pods hold (best effort not counted).", ctype="integer"),
    col("Borrowed", "GPUs in use beyond its nominal share.", ctype="integer"),
    col("Pending", "Its pods waiting to be scheduled.", ctype="integer"),
    col("Fair-Share", "Slurm's factor 2^(-usage/share): 1 unused, 0.5 used its share."),
    AGE_COL,
    col("Reclaim-Grace", "Seconds its pods wait for borrowers before reclaim.", priority=1),
]


def _gpus(resources: Any) -> Any:
    if isinstance(resources, dict) and GPU_RESOURCE in resources:
        return resources[GPU_RESOURCE]
    return ""


def queue_cells(q: Obj, now: datetime) -> list[Any]:
    spec = q.get("spec") or {}
    status = q.get("status") or {}
    limit = spec.get("borrowingLimit")
    return [
        obj_name(q),
        _gpus(spec.get("nominal")),
        _gpus(limit) if limit is not None else "<none>",
        _gpus(status.get("used")) or 0,
        _gpus(status.get("borrowed")) or 0,
        status.get("pendingPods") or 0,
        str(status.get("fairShare", "1.0")),
        age_cell(q, now),
        spec.get("reclaimGracePeriodSeconds", 30),
    ]
