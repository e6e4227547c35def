"""Table cells for workloads, services, config kinds and events (upstream printers)."""

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
    condition_true,
    containers_cells,
    format_label_selector,
    format_labels,
    human_duration,
    obj_meta,
    obj_name,
    parse_time,
    since,
    template_spec,
)

# ---------------------------------------------------------------- workloads

DEPLOYMENT_COLUMNS = [
    NAME_COL,
    col("Ready", "Number of the pod with ready state"),
    col(
        "Up-to-date",
        "Total number of non-terminated pods targeted by this deployment that "
        "have the desired template spec.",
    ),
    col("Available", "Total number of available pods targeted by this deployment."),
    AGE_COL,
    *CONTAINERS_COLS,
]


def deployment_cells(d: Obj, now: datetime) -> list[Any]:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    desired = as_int(spec.get("replicas", 1))
    names, images = containers_cells(template_spec(d))
    selector = format_label_selector(spec.get("selector"))
    return [
        obj_name(d),
        f"{as_int(status.get('readyReplicas'))}/{desired}",
        as_int(status.get("updatedReplicas")),
        as_int(status.get("availableReplicas")),
        age_cell(d, now),
        names,
        images,
        "" if selector == "<none>" else selector,
    ]


REPLICASET_COLUMNS = [
    NAME_COL,
    col("Desired", "Replicas is the number of desired pods.", ctype="integer"),
    col("Current", "Replicas is the most recently observed number of replicas.", ctype="integer"),
    col("Ready", "The number of ready replicas for this replica set.", ctype="integer"),
    AGE_COL,
    *CONTAINERS_COLS,
]


def replicaset_cells(rs: Obj, now: datetime) -> list[Any]:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = containers_cells(template_spec(rs))
    return [
        obj_name(rs),
        as_int(spec.get("replicas", 1)),
        as_int(status.get("replicas")),
        as_int(status.get("readyReplicas")),
        age_cell(rs, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


JOB_COLUMNS = [
    NAME_COL,
    col("Status", "Status of the job."),
    col("Completions", "The number of pods which reached phase Succeeded."),
    col("Duration", "Time required to complete the job."),
    AGE_COL,
    *CONTAINERS_COLS,
]


def job_status(job: Obj) -> str:
    """``Complete``, ``Failed``, ``Terminating``, ``Suspended``, ... or ``Running``."""
    conds = (job.get("status") or {}).get("conditions")
    if condition_true(conds, "Complete"):
        return "Complete"
    if condition_true(conds, "Failed"):
        return "Failed"
    if obj_meta(job).get("deletionTimestamp"):
        return "Terminating"
    if condition_true(conds, "Suspended"):
        return "Suspended"
    if condition_true(conds, "FailureTarget"):
        return "FailureTarget"
    if condition_true(conds, "SuccessCriteriaMet"):
        return "SuccessCriteriaMet"
    return "Running"


def job_cells(job: Obj, now: datetime) -> list[Any]:
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = as_int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{as_int(spec.get('completions'))}"
    elif as_int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {as_int(spec.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    start, end = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = ""
    if start is not None:
        duration = human_duration(((end or now) - start).total_seconds())
    names, images = containers_cells(template_spec(job))
    return [
        obj_name(job),
        job_status(job),
        completions,
        duration,
        age_cell(job, now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


# ---------------------------------------------------------------- services, config


SERVICE_COLUMNS = [
    NAME_COL,
    col("Type", "Type determines how the Service is exposed."),
    col("Cluster-IP", "The IP address of the service."),
    col("External-IP", "External IPs for which nodes in the cluster will accept traffic."),
    col("Port(s)", "The list of ports that are exposed by this service."),
    AGE_COL,
    col(
        "Selector",
        "Route service traffic to pods with label keys and values matching this selector.",
        priority=1,
    ),
]


def _service_external_ip(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    external = [str(ip) for ip in spec.get("externalIPs") or []]
    if stype in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if stype == "LoadBalancer":
        ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
        lb = sorted(
            {
                str(i.get("ip") or i.get("hostname"))
                for i in ingress
                if i.get("ip") or i.get("hostname")
            }
        )
        return ",".join(lb + external) or "<pending>"
    if stype == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def service_cells(svc: Obj, now: datetime) -> list[Any]:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = []
    for p in spec.get("ports") or []:
        proto = p.get("protocol") or "TCP"
        if as_int(p.get("nodePort")) > 0:
            ports.append(f"{p.get('port')}:{p.get('nodePort')}/{proto}")
        else:
            ports.append(f"{p.get('port')}/{proto}")
    return [
        obj_name(svc),
        spec.get("type") or "ClusterIP",
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(svc),
        ",".join(ports) or "<none>",
        age_cell(svc, now),
        format_labels(spec.get("selector")),
    ]


def format_endpoints(ep: Obj) -> str:
    """``formatEndpoints``: up to three ``ip:port``, then `` + N more...``."""
    subsets = ep.get("subsets") or []
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    more = False
    for ss in subsets:
        addresses = ss.get("addresses") or []
        ports = ss.get("ports") or []
        targets = (
            [(a, None) for a in addresses]
            if not ports
            else [(a, p) for p in ports for a in addresses]
        )
        count += len(targets)
        for addr, port in targets:
            if len(shown) == 3:
                more = True
                break
            ip = str(addr.get("ip", ""))
            if port is None:
                shown.append(ip)
            else:
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{port.get('port')}")
    text = ",".join(shown)
    return f"{text} + {count - 3} more..." if more else text


def _event_source(ev: Obj) -> str:
    src = ev.get("source") or {}
    component = src.get("component") or ev.get("reportingComponent") or ""
    host = src.get("host") or ev.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


EVENT_COLUMNS = [
    col("Last Seen", "The time at which the most recent occurrence of this event was recorded."),
    col("Type", "Type of this event (Normal, Warning)."),
    col("Reason", "A short, machine understandable string that gives the reason for this event."),
    col("Object", "The object that this event is about."),
    col("Subobject", "The field of the object the event is about.", priority=1),
    col("Source", "The component reporting this event.", priority=1),
    col("Message", "A human-readable description of the status of this operation."),
    col("First Seen", "The time at which the event was first recorded.", priority=1),
    col("Count", "The number of times this event has occurred.", priority=1),
    col("Name", "Name must be unique within a namespace.", priority=1, fmt="name"),
]


def event_cells(ev: Obj, now: datetime) -> list[Any]:
    first = ev.get("firstTimestamp") or ev.get("eventTime")
    first_cell = since(first, now)
    last_cell = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first_cell
    count = as_int(ev.get("count"))
    series = ev.get("series")
    if series:
        last_cell = since(series.get("lastObservedTime"), now)
        count = as_int(series.get("count"))
    elif count == 0:
        count = 1
    inv = ev.get("involvedObject") or {}
    kind = str(inv.get("kind", "")).lower()
    target = f"{kind}/{inv['name']}" if inv.get("name") else kind
    return [
        last_cell,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        inv.get("fieldPath", ""),
        _event_source(ev),
        str(ev.get("message", "")).strip(),
        first_cell,
        count,
        obj_name(ev),
    ]


# ---------------------------------------------------------------- RBAC

ROLE_COLUMNS = [
    NAME_COL,
    col(
        "Created At",
        "CreationTimestamp is a timestamp representing the server time when this object was "
        "created.",
        ctype="date",
    ),
]


def role_cells(r: Obj, now: datetime) -> list[Any]:
    # Upstream prints the creation time itself (RFC 3339, UTC), not an age.
    return [obj_name(r), obj_meta(r).get("creationTimestamp") or ""]


ROLE_BINDING_COLUMNS = [
    NAME_COL,
    col("Role", "RoleRef can reference a Role in the current namespace or a ClusterRole."),
    AGE_COL,
    col("Users", "Users in the roleBinding", priority=1),
    col("Groups", "Groups in the roleBinding", priority=1),
    col("ServiceAccounts", "ServiceAccounts in the roleBinding", priority=1),
]


def role_binding_cells(b: Obj, now: datetime) -> list[Any]:
    ref = b.get("roleRef") or {}
    users: list[str] = []
    groups: list[str] = []
    sas: list[str] = []
    for s in b.get("subjects") or []:
        kind, name = s.get("kind"), str(s.get("name") or "")
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            sas.append(f"{s.get('namespace') or ''}/{name}")
    return [
        obj_name(b),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        age_cell(b, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(sas),
    ]
