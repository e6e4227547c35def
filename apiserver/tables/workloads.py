"""Table cells for DaemonSets, ControllerRevisions, CronJobs and ReplicationControllers
(upstream printers)."""

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
    format_label_selector,
    format_labels,
    obj_meta,
    obj_name,
    since,
    template_spec,
)

DAEMONSET_COLUMNS = [
    NAME_COL,
    col(
        "Desired",
        "The total number of nodes that should be running the daemon pod (including nodes "
        "correctly running the daemon pod).",
        ctype="integer",
    ),
    col(
        "Current",
        "The number of nodes that are running at least 1 daemon pod and are supposed to run "
        "the daemon pod.",
        ctype="integer",
    ),
    col(
        "Ready",
        "numberReady is the number of nodes that should be running the daemon pod and have "
        "one or more of the daemon pod running with a Ready Condition.",
        ctype="integer",
    ),
    col(
        "Up-to-date",
        "The total number of nodes that are running updated daemon pod",
        ctype="integer",
    ),
    col(
        "Available",
        "The number of nodes that should be running the daemon pod and have one or more of "
        "the daemon pod running and available (ready for at least spec.minReadySeconds)",
        ctype="integer",
    ),
    col(
        "Node Selector",
        "NodeSelector is a selector which must be true for the pod to fit on a node.",
    ),
    AGE_COL,
    *CONTAINERS_COLS,
]


def daemonset_cells(ds: Obj, now: datetime) -> list[Any]:
    spec, st = ds.get("spec") or {}, ds.get("status") or {}
    names, images = containers_cells(template_spec(ds))
    return [
        obj_name(ds),
        as_int(st.get("desiredNumberScheduled")),
        as_int(st.get("currentNumberScheduled")),
        as_int(st.get("numberReady")),
        as_int(st.get("updatedNumberScheduled")),
        as_int(st.get("numberAvailable")),
        format_labels(template_spec(ds).get("nodeSelector")),
        age_cell(ds, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


CONTROLLER_REVISION_COLUMNS = [
    NAME_COL,
    col("Controller", "Controller of the object"),
    col("Revision", "Revision indicates the revision of the state represented by Data."),
    AGE_COL,
]


def controller_revision_cells(cr: Obj, now: datetime) -> list[Any]:
    controller = "<none>"
    for ref in obj_meta(cr).get("ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            controller = (
                f"{kind}.{group}/{ref.get('name', '')}"
                if group
                else f"{kind}/{ref.get('name', '')}"
            )
            break
    return [obj_name(cr), controller, as_int(cr.get("revision")), age_cell(cr, now)]


CRONJOB_COLUMNS = [
    NAME_COL,
    col("Schedule", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
    col(
        "Timezone",
        "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
    ),
    col(
        "Suspend",
        "This flag tells the controller to suspend subsequent executions.",
        ctype="boolean",
    ),
    col("Active", "A list of pointers to currently running jobs.", ctype="integer"),
    col("Last Schedule", "Information when was the last time the job was successfully scheduled."),
    AGE_COL,
    *CONTAINERS_COLS,
]


def cronjob_cells(cj: Obj, now: datetime) -> list[Any]:
    spec, st = cj.get("spec") or {}, cj.get("status") or {}
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    names, images = containers_cells((job_spec.get("template") or {}).get("spec"))
    last = st.get("lastScheduleTime")
    suspend = spec.get("suspend")
    return [
        obj_name(cj),
        spec.get("schedule") or "",
        spec.get("timeZone") or "<none>",
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(st.get("active") or []),
        since(last, now) if last else "<none>",
        age_cell(cj, now),
        names,
        images,
        format_label_selector(job_spec.get("selector")),
    ]


REPLICATION_CONTROLLER_COLUMNS = [
    NAME_COL,
    col("Desired", "Replicas is the number of desired replicas.", ctype="integer"),
    col("Current", "Replicas is the most recently observed number of replicas.", ctype="integer"),
    col("Ready", "The number of ready replicas for this replication controller.", ctype="integer"),
    AGE_COL,
    *CONTAINERS_COLS,
]


def replication_controller_cells(rc: Obj, now: datetime) -> list[Any]:
    spec, st = rc.get("spec") or {}, rc.get("status") or {}
    names, images = containers_cells(template_spec(rc))
    return [
        obj_name(rc),
        as_int(spec.get("replicas", 1)),
        as_int(st.get("replicas")),
        as_int(st.get("readyReplicas")),
        age_cell(rc, now),
        names,
        images,
        format_labels(spec.get("selector")),
    ]
