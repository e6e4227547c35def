"""The columns kubectl prints for each kind (``get`` tables), computed from plain objects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from api.endpointslices import format_endpoints, format_ports
from api.gpus import node_gpu_summary
from api.hpa import format_targets
from api.nodestatus import node_status
from api.quota import request_limit_cells
from api.storage import access_modes_string, is_default_class
from kubectl.printers.age import age, human_duration, now, parse_time

GPU_UUIDS = "kubelab.io/gpu-uuids"
NONE = "<none>"

Row = list[str]
RowFn = Callable[[dict[str, Any], datetime], Row]


class Columns:
    """A kind's headers, its ``-o wide`` extra headers and the functions filling them."""

    def __init__(
        self,
        headers: list[str],
        row: RowFn,
        wide: list[str],
        wide_row: RowFn,
        wide_replaces: bool = False,
    ) -> None:
        self.headers = headers
        self.row = row
        self.wide = wide
        self.wide_row = wide_row
        # Events put their extra columns in the middle: ``wide`` is then the whole row.
        self.wide_replaces = wide_replaces


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _age(obj: dict[str, Any], at: datetime) -> str:
    return age(_meta(obj).get("creationTimestamp"), at)


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def format_labels(labels: dict[str, str] | None) -> str:
    """``a=1,b=2`` sorted by key, ``<none>`` when empty (kubectl's labels.FormatLabels)."""
    if not labels:
        return NONE
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def format_selector(selector: dict[str, Any] | None) -> str:
    """A LabelSelector as text (``app=web,tier in (a,b)``), ``<none>`` when empty."""
    if not selector:
        return NONE
    reqs: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        reqs.append((k, f"{k}={v}"))
    for e in selector.get("matchExpressions") or []:
        key, op, vals = e.get("key", ""), e.get("operator", ""), e.get("values") or []
        if op == "In":
            reqs.append((key, f"{key} in ({','.join(sorted(vals))})"))
        elif op == "NotIn":
            reqs.append((key, f"{key} notin ({','.join(sorted(vals))})"))
        elif op == "Exists":
            reqs.append((key, key))
        elif op == "DoesNotExist":
            reqs.append((key, f"!{key}"))
    return ",".join(text for _, text in sorted(reqs)) or NONE


def _pod_template_cells(template: dict[str, Any]) -> tuple[str, str]:
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    names = ",".join(c.get("name", "") for c in containers)
    images = ",".join(c.get("image", "") for c in containers)
    return names or NONE, images or NONE


# ----- pods -----------------------------------------------------------------------------


def _has_condition(status: dict[str, Any], ctype: str) -> bool:
    return any(
        c.get("type") == ctype and c.get("status") == "True" for c in status.get("conditions") or []
    )


def pod_status(pod: dict[str, Any]) -> tuple[str, int, int, int, datetime | None]:
    """kubectl's printPod logic: (STATUS text, ready containers, total containers,
    restarts, time of the last restart)."""
    spec, status, meta = _spec(pod), _status(pod), _meta(pod)
    total = len(spec.get("containers") or [])
    ready = 0
    restarts = 0
    last_restart: datetime | None = None
    reason = status.get("reason") or status.get("phase") or "Pending"

    def note_restart(cs: dict[str, Any]) -> None:
        nonlocal last_restart
        term = ((cs.get("lastState") or {}).get("terminated")) or {}
        t = parse_time(term.get("finishedAt"))
        if t and (last_restart is None or t > last_restart):
            last_restart = t

    initializing = False
    init_specs = spec.get("initContainers") or []
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += _int(cs.get("restartCount"))
        note_restart(cs)
        state = cs.get("state") or {}
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and _int(term.get("exitCode")) == 0:
            continue
        if term:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{_int(term.get('exitCode'))}"
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    if not initializing or _has_condition(status, "Initialized"):
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += _int(cs.get("restartCount"))
            note_restart(cs)
            state = cs.get("state") or {}
            waiting, term, running = (
                state.get("waiting"),
                state.get("terminated"),
                state.get("running"),
            )
            if waiting and waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                if term.get("signal"):
                    reason = f"Signal:{term['signal']}"
                else:
                    reason = f"ExitCode:{_int(term.get('exitCode'))}"
            elif cs.get("ready") and running is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _has_condition(status, "Ready") else "NotReady"

    phase = status.get("phase")
    if meta.get("deletionTimestamp") and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif meta.get("deletionTimestamp") and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    return reason, ready, total, restarts, last_restart


def pod_row(pod: dict[str, Any], at: datetime) -> Row:
    reason, ready, total, restarts, last = pod_status(pod)
    restarts_text = str(restarts)
    if restarts and last is not None:
        restarts_text = f"{restarts} ({human_duration((at - last).total_seconds())} ago)"
    return [_meta(pod).get("name", ""), f"{ready}/{total}", reason, restarts_text, _age(pod, at)]


def pod_gpus(pod: dict[str, Any]) -> str:
    """The GPU UUIDs a pod was bound to, or ``<none>``."""
    return (_meta(pod).get("annotations") or {}).get(GPU_UUIDS) or NONE


def pod_readiness_gates(pod: dict[str, Any]) -> str:
    """``true/declared`` readiness gates, or ``<none>`` when the pod declares none."""
    gates = _spec(pod).get("readinessGates") or []
    if not gates:
        return NONE
    conds = {c.get("type"): c.get("status") for c in _status(pod).get("conditions") or []}
    true = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
    return f"{true}/{len(gates)}"


def pod_wide(pod: dict[str, Any], at: datetime) -> Row:
    """kubectl's wide columns (IP, NODE, NOMINATED NODE, READINESS GATES), then GPUS."""
    status = _status(pod)
    return [
        status.get("podIP") or NONE,
        _spec(pod).get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        pod_readiness_gates(pod),
        pod_gpus(pod),
    ]


# ----- nodes ----------------------------------------------------------------------------


def node_roles(node: dict[str, Any]) -> str:
    roles = set()
    for k, v in (_meta(node).get("labels") or {}).items():
        if k.startswith("node-role.kubernetes.io/"):
            role = k.split("/", 1)[1]
            if role:
                roles.add(role)
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return ",".join(sorted(roles)) or NONE


def node_gpus(node: dict[str, Any]) -> str:
    """``2xNVIDIA-H100-80GB-HBM3``: the GPUS cell, the same as the server's Table."""
    return node_gpu_summary(node)


def node_address(node: dict[str, Any], kind: str) -> str:
    for a in _status(node).get("addresses") or []:
        if a.get("type") == kind:
            return str(a.get("address", ""))
    return NONE


def node_row(node: dict[str, Any], at: datetime) -> Row:
    info = _status(node).get("nodeInfo") or {}
    return [
        _meta(node).get("name", ""),
        node_status(node),
        node_roles(node),
        _age(node, at),
        info.get("kubeletVersion", ""),
    ]


def node_wide(node: dict[str, Any], at: datetime) -> Row:
    info = _status(node).get("nodeInfo") or {}
    return [
        node_address(node, "InternalIP"),
        node_address(node, "ExternalIP"),
        info.get("osImage") or "<unknown>",
        info.get("kernelVersion") or "<unknown>",
        info.get("containerRuntimeVersion") or "<unknown>",
        node_gpus(node),
    ]


# ----- workloads ------------------------------------------------------------------------


def deployment_row(d: dict[str, Any], at: datetime) -> Row:
    spec, st = _spec(d), _status(d)
    desired = _int(spec.get("replicas"), 1) if "replicas" in spec else 1
    return [
        _meta(d).get("name", ""),
        f"{_int(st.get('readyReplicas'))}/{desired}",
        str(_int(st.get("updatedReplicas"))),
        str(_int(st.get("availableReplicas"))),
        _age(d, at),
    ]


def _template_wide(obj: dict[str, Any], at: datetime) -> Row:
    names, images = _pod_template_cells(_spec(obj).get("template") or {})
    return [names, images, format_selector(_spec(obj).get("selector"))]


def replicaset_row(rs: dict[str, Any], at: datetime) -> Row:
    spec, st = _spec(rs), _status(rs)
    return [
        _meta(rs).get("name", ""),
        str(_int(spec.get("replicas"), 1) if "replicas" in spec else 1),
        str(_int(st.get("replicas"))),
        str(_int(st.get("readyReplicas"))),
        _age(rs, at),
    ]


def statefulset_row(sts: dict[str, Any], at: datetime) -> Row:
    spec, st = _spec(sts), _status(sts)
    desired = _int(spec.get("replicas"), 1) if "replicas" in spec else 1
    return [_meta(sts).get("name", ""), f"{_int(st.get('readyReplicas'))}/{desired}", _age(sts, at)]


def daemonset_row(ds: dict[str, Any], at: datetime) -> Row:
    st = _status(ds)
    node_selector = ((_spec(ds).get("template") or {}).get("spec") or {}).get("nodeSelector")
    return [
        _meta(ds).get("name", ""),
        *(
            str(_int(st.get(k)))
            for k in (
                "desiredNumberScheduled",
                "currentNumberScheduled",
                "numberReady",
                "updatedNumberScheduled",
                "numberAvailable",
            )
        ),
        format_labels(node_selector),
        _age(ds, at),
    ]


def cronjob_row(cj: dict[str, Any], at: datetime) -> Row:
    spec, st = _spec(cj), _status(cj)
    suspend = spec.get("suspend")
    last = st.get("lastScheduleTime")
    return [
        _meta(cj).get("name", ""),
        str(spec.get("schedule") or ""),
        str(spec.get("timeZone") or NONE),
        "<unset>" if suspend is None else str(bool(suspend)),
        str(len(st.get("active") or [])),
        age(last, at) if last else NONE,
        _age(cj, at),
    ]


def _cronjob_wide(cj: dict[str, Any], at: datetime) -> Row:
    job = (_spec(cj).get("jobTemplate") or {}).get("spec") or {}
    names, images = _pod_template_cells(job.get("template") or {})
    return [names, images, format_selector(job.get("selector"))]


def _rc_wide(rc: dict[str, Any], at: datetime) -> Row:
    names, images = _pod_template_cells(_spec(rc).get("template") or {})
    return [names, images, format_labels(_spec(rc).get("selector"))]


def controller_revision_row(cr: dict[str, Any], at: datetime) -> Row:
    controller = NONE
    for ref in _meta(cr).get("ownerReferences") or []:
        if ref.get("controller"):
            group = str(ref.get("apiVersion", "")).rpartition("/")[0]
            kind = str(ref.get("kind", "")).lower()
            controller = (
                f"{kind}.{group}/{ref.get('name', '')}"
                if group
                else f"{kind}/{ref.get('name', '')}"
            )
            break
    return [_meta(cr).get("name", ""), controller, str(_int(cr.get("revision"))), _age(cr, at)]


def _template_containers(obj: dict[str, Any], at: datetime) -> Row:
    names, images = _pod_template_cells(_spec(obj).get("template") or {})
    return [names, images]


def _has_job_condition(job: dict[str, Any], ctype: str) -> bool:
    return any(
        c.get("type") == ctype and c.get("status") == "True"
        for c in _status(job).get("conditions") or []
    )


def job_status(job: dict[str, Any]) -> str:
    """Complete, Failed, Terminating, Suspended, FailureTarget, SuccessCriteriaMet or Running."""
    if _has_job_condition(job, "Complete"):
        return "Complete"
    if _has_job_condition(job, "Failed"):
        return "Failed"
    if _meta(job).get("deletionTimestamp"):
        return "Terminating"
    for c in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_job_condition(job, c):
            return c
    return "Running"


def job_completions(job: dict[str, Any]) -> str:
    spec, st = _spec(job), _status(job)
    succeeded = _int(st.get("succeeded"))
    if spec.get("completions") is not None:
        return f"{succeeded}/{_int(spec['completions'])}"
    parallelism = spec.get("parallelism")
    if parallelism is not None and _int(parallelism) > 1:
        return f"{succeeded}/1 of {_int(parallelism)}"
    return f"{succeeded}/1"


def job_duration(job: dict[str, Any], at: datetime) -> str:
    st = _status(job)
    start, end = parse_time(st.get("startTime")), parse_time(st.get("completionTime"))
    if start is None:
        return ""
    return human_duration(((end or at) - start).total_seconds())


def job_row(job: dict[str, Any], at: datetime) -> Row:
    return [
        _meta(job).get("name", ""),
        job_status(job),
        job_completions(job),
        job_duration(job, at),
        _age(job, at),
    ]


# ----- services and config --------------------------------------------------------------


def service_ports(svc: dict[str, Any]) -> str:
    parts = []
    for p in _spec(svc).get("ports") or []:
        proto = p.get("protocol") or "TCP"
        if p.get("nodePort"):
            parts.append(f"{p.get('port')}:{p['nodePort']}/{proto}")
        else:
            parts.append(f"{p.get('port')}/{proto}")
    return ",".join(parts) or NONE


def service_external_ip(svc: dict[str, Any]) -> str:
    spec = _spec(svc)
    stype = spec.get("type") or "ClusterIP"
    ips = list(spec.get("externalIPs") or [])
    if stype == "LoadBalancer":
        ing = ((_status(svc).get("loadBalancer") or {}).get("ingress")) or []
        ips = [i.get("ip") or i.get("hostname") or "" for i in ing] + ips
        return ",".join(ips) if ips else "<pending>"
    if stype == "ExternalName":
        return spec.get("externalName") or NONE
    return ",".join(ips) if ips else NONE


def service_row(svc: dict[str, Any], at: datetime) -> Row:
    spec = _spec(svc)
    return [
        _meta(svc).get("name", ""),
        spec.get("type") or "ClusterIP",
        spec.get("clusterIP") or NONE,
        service_external_ip(svc),
        service_ports(svc),
        _age(svc, at),
    ]


def service_wide(svc: dict[str, Any], at: datetime) -> Row:
    return [format_labels(_spec(svc).get("selector"))]


def endpoints_text(ep: dict[str, Any], limit: int = 3) -> str:
    """``10.0.0.1:80,10.0.0.2:80 + 1 more...`` like kubectl."""
    items: list[str] = []
    for s in ep.get("subsets") or []:
        ports = s.get("ports") or []
        for a in s.get("addresses") or []:
            if ports:
                items.extend(f"{a.get('ip')}:{p.get('port')}" for p in ports)
            else:
                items.append(str(a.get("ip")))
    if not items:
        return NONE
    text = ",".join(items[:limit])
    if len(items) > limit:
        text += f" + {len(items) - limit} more..."
    return text


def endpoints_row(ep: dict[str, Any], at: datetime) -> Row:
    return [_meta(ep).get("name", ""), endpoints_text(ep), _age(ep, at)]


def endpoint_slice_row(es: dict[str, Any], at: datetime) -> Row:
    return [
        _meta(es).get("name", ""),
        str(es.get("addressType") or ""),
        format_ports(es.get("ports") or []),
        format_endpoints(es.get("endpoints") or []),
        _age(es, at),
    ]


def configmap_row(cm: dict[str, Any], at: datetime) -> Row:
    n = len(cm.get("data") or {}) + len(cm.get("binaryData") or {})
    return [_meta(cm).get("name", ""), str(n), _age(cm, at)]


def webhook_configuration_row(c: dict[str, Any], at: datetime) -> Row:
    """Validating- and MutatingWebhookConfiguration: how many webhooks each holds."""
    return [_meta(c).get("name", ""), str(len(c.get("webhooks") or [])), _age(c, at)]


def secret_row(s: dict[str, Any], at: datetime) -> Row:
    n = len(s.get("data") or {}) + len(s.get("stringData") or {})
    return [_meta(s).get("name", ""), s.get("type") or "Opaque", str(n), _age(s, at)]


def namespace_row(ns: dict[str, Any], at: datetime) -> Row:
    return [_meta(ns).get("name", ""), _status(ns).get("phase") or "Active", _age(ns, at)]


def serviceaccount_row(sa: dict[str, Any], at: datetime) -> Row:
    return [_meta(sa).get("name", ""), str(len(sa.get("secrets") or [])), _age(sa, at)]


def lease_row(lease: dict[str, Any], at: datetime) -> Row:
    return [_meta(lease).get("name", ""), _spec(lease).get("holderIdentity") or "", _age(lease, at)]


# ----- events ---------------------------------------------------------------------------


def _first_seen(ev: dict[str, Any], at: datetime) -> str:
    return age(ev.get("firstTimestamp") or ev.get("eventTime"), at)


def event_last_seen(ev: dict[str, Any], at: datetime) -> str:
    """kubectl's LAST SEEN: the last timestamp (else the first, else the series')."""
    series = ev.get("series") or {}
    if series.get("lastObservedTime"):
        return age(series["lastObservedTime"], at)
    if ev.get("lastTimestamp"):
        return age(ev["lastTimestamp"], at)
    return _first_seen(ev, at)


def event_object(ev: dict[str, Any]) -> str:
    inv = ev.get("involvedObject") or {}
    return f"{str(inv.get('kind', '')).lower()}/{inv.get('name', '')}"


def event_row(ev: dict[str, Any], at: datetime) -> Row:
    return [
        event_last_seen(ev, at),
        ev.get("type") or "",
        ev.get("reason") or "",
        event_object(ev),
        " ".join(str(ev.get("message") or "").split()),
    ]


def event_wide(ev: dict[str, Any], at: datetime) -> Row:
    src = ev.get("source") or {}
    component = src.get("component") or ev.get("reportingComponent") or ""
    host = src.get("host") or ev.get("reportingInstance") or ""
    source = f"{component}, {host}" if component and host else component or "<unknown>"
    series = ev.get("series") or {}
    count = _int(series.get("count") if series else ev.get("count"), 1) or 1
    return [
        event_last_seen(ev, at),
        ev.get("type") or "",
        ev.get("reason") or "",
        event_object(ev),
        (ev.get("involvedObject") or {}).get("fieldPath") or "",
        source,
        " ".join(str(ev.get("message") or "").split()),
        _first_seen(ev, at),
        str(count),
        _meta(ev).get("name", ""),
    ]


def _storage_phase(obj: dict[str, Any]) -> str:
    return "Terminating" if _meta(obj).get("deletionTimestamp") else _status(obj).get("phase", "")


def pv_row(pv: dict[str, Any], at: datetime) -> Row:
    spec = _spec(pv)
    ref = spec.get("claimRef") or {}
    return [
        _meta(pv).get("name", ""),
        str((spec.get("capacity") or {}).get("storage") or "0"),
        access_modes_string(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy") or "",
        _storage_phase(pv),
        f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else "",
        spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        _status(pv).get("reason") or "",
        _age(pv, at),
    ]


def pvc_row(pvc: dict[str, Any], at: datetime) -> Row:
    spec, status = _spec(pvc), _status(pvc)
    bound = bool(spec.get("volumeName"))  # as kubectl: only a bound claim shows what it got
    return [
        _meta(pvc).get("name", ""),
        _storage_phase(pvc),
        spec.get("volumeName") or "",
        str((status.get("capacity") or {}).get("storage") or "") if bound else "",
        access_modes_string(status.get("accessModes")) if bound else "",
        spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        _age(pvc, at),
    ]


def _volume_mode(obj: dict[str, Any], at: datetime) -> Row:
    return [_spec(obj).get("volumeMode") or "<unset>"]


def storage_class_row(sc: dict[str, Any], at: datetime) -> Row:
    name = _meta(sc).get("name", "")
    return [
        f"{name} (default)" if is_default_class(sc) else name,
        sc.get("provisioner") or "",
        sc.get("reclaimPolicy") or "Delete",
        sc.get("volumeBindingMode") or "Immediate",
        "true" if sc.get("allowVolumeExpansion") is True else "false",
        _age(sc, at),
    ]


def _name_age(obj: dict[str, Any], at: datetime) -> Row:
    return [_meta(obj).get("name", ""), _age(obj, at)]


def _nothing(obj: dict[str, Any], at: datetime) -> Row:
    return []


def resource_quota_row(quota: dict[str, Any], at: datetime) -> Row:
    return [str(_meta(quota).get("name") or ""), _age(quota, at), *request_limit_cells(quota)]


def hpa_row(hpa: dict[str, Any], at: datetime) -> Row:
    spec, ref = _spec(hpa), _spec(hpa).get("scaleTargetRef") or {}
    min_replicas = spec.get("minReplicas")
    return [
        _meta(hpa).get("name", ""),
        f"{ref.get('kind', '')}/{ref.get('name', '')}",
        format_targets(hpa),
        "<unset>" if min_replicas is None else str(min_replicas),
        str(_int(spec.get("maxReplicas"))),
        str(_int(_status(hpa).get("currentReplicas"))),
        _age(hpa, at),
    ]


def limit_range_row(lr: dict[str, Any], at: datetime) -> Row:
    return [str(_meta(lr).get("name") or ""), str(_meta(lr).get("creationTimestamp") or "")]


COLUMNS: dict[str, Columns] = {
    "Pod": Columns(
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        pod_row,
        ["IP", "NODE", "NOMINATED NODE", "READINESS GATES", "GPUS"],
        pod_wide,
    ),
    "Node": Columns(
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
        node_row,
        ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME", "GPUS"],
        node_wide,
    ),
    "Deployment": Columns(
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        deployment_row,
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _template_wide,
    ),
    "ReplicaSet": Columns(
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        replicaset_row,
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _template_wide,
    ),
    "StatefulSet": Columns(
        ["NAME", "READY", "AGE"], statefulset_row, ["CONTAINERS", "IMAGES"], _template_containers
    ),
    "DaemonSet": Columns(
        ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
        daemonset_row,
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _template_wide,
    ),
    "ControllerRevision": Columns(
        ["NAME", "CONTROLLER", "REVISION", "AGE"], controller_revision_row, [], _nothing
    ),
    "CronJob": Columns(
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
        cronjob_row,
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _cronjob_wide,
    ),
    "ReplicationController": Columns(
        ["NAME", "DESIRED", "CURRENT", "READY", "AGE"],
        replicaset_row,
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _rc_wide,
    ),
    "Job": Columns(
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        job_row,
        ["CONTAINERS", "IMAGES", "SELECTOR"],
        _template_wide,
    ),
    "Service": Columns(
        ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"],
        service_row,
        ["SELECTOR"],
        service_wide,
    ),
    "Endpoints": Columns(["NAME", "ENDPOINTS", "AGE"], endpoints_row, [], _nothing),
    "EndpointSlice": Columns(
        ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], endpoint_slice_row, [], _nothing
    ),
    "PersistentVolume": Columns(
        [
            "NAME",
            "CAPACITY",
            "ACCESS MODES",
            "RECLAIM POLICY",
            "STATUS",
            "CLAIM",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "REASON",
            "AGE",
        ],
        pv_row,
        ["VOLUMEMODE"],
        _volume_mode,
    ),
    "PersistentVolumeClaim": Columns(
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE",
        ],
        pvc_row,
        ["VOLUMEMODE"],
        _volume_mode,
    ),
    "StorageClass": Columns(
        [
            "NAME",
            "PROVISIONER",
            "RECLAIMPOLICY",
            "VOLUMEBINDINGMODE",
            "ALLOWVOLUMEEXPANSION",
            "AGE",
        ],
        storage_class_row,
        [],
        _nothing,
    ),
    "ResourceQuota": Columns(["NAME", "AGE", "REQUEST", "LIMIT"], resource_quota_row, [], _nothing),
    "LimitRange": Columns(["NAME", "CREATED AT"], limit_range_row, [], _nothing),
    "HorizontalPodAutoscaler": Columns(
        ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"],
        hpa_row,
        [],
        _nothing,
    ),
    "ConfigMap": Columns(["NAME", "DATA", "AGE"], configmap_row, [], _nothing),
    "ValidatingWebhookConfiguration": Columns(
        ["NAME", "WEBHOOKS", "AGE"], webhook_configuration_row, [], _nothing
    ),
    "MutatingWebhookConfiguration": Columns(
        ["NAME", "WEBHOOKS", "AGE"], webhook_configuration_row, [], _nothing
    ),
    "Secret": Columns(["NAME", "TYPE", "DATA", "AGE"], secret_row, [], _nothing),
    "Namespace": Columns(["NAME", "STATUS", "AGE"], namespace_row, [], _nothing),
    "ServiceAccount": Columns(["NAME", "SECRETS", "AGE"], serviceaccount_row, [], _nothing),
    "Lease": Columns(["NAME", "HOLDER", "AGE"], lease_row, [], _nothing),
    "Event": Columns(
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        event_row,
        [
            "LAST SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "SUBOBJECT",
            "SOURCE",
            "MESSAGE",
            "FIRST SEEN",
            "COUNT",
            "NAME",
        ],
        event_wide,
        wide_replaces=True,
    ),
}

DEFAULT_COLUMNS = Columns(["NAME", "AGE"], _name_age, [], _nothing)


def columns_for(kind: str) -> Columns:
    """The columns of ``kind``; NAME and AGE for kinds without their own."""
    return COLUMNS.get(kind, DEFAULT_COLUMNS)


def name_column_index(kind: str) -> int | None:
    """Where NAME sits in the kind's row (events have no NAME column up front)."""
    headers = columns_for(kind).headers
    return headers.index("NAME") if "NAME" in headers else None


def build_rows(
    kind: str,
    objects: list[dict[str, Any]],
    *,
    wide: bool = False,
    with_namespace: bool = False,
    show_labels: bool = False,
    name_prefix: str = "",
    at: datetime | None = None,
) -> tuple[list[str], list[Row]]:
    """Headers and rows for ``objects`` of one kind, with the optional NAMESPACE,
    ``-o wide`` and LABELS columns and a ``kind/`` prefix on names (several kinds)."""
    at = at or now()
    cols = columns_for(kind)
    if wide and cols.wide_replaces:
        headers = list(cols.wide)
    else:
        headers = list(cols.headers) + (list(cols.wide) if wide else [])
    if with_namespace:
        headers.insert(0, "NAMESPACE")
    if show_labels:
        headers.append("LABELS")
    name_idx = name_column_index(kind)
    rows: list[Row] = []
    for obj in objects:
        if wide and cols.wide_replaces:
            row = cols.wide_row(obj, at)
        else:
            row = cols.row(obj, at) + (cols.wide_row(obj, at) if wide else [])
        if name_prefix and name_idx is not None:
            row[name_idx] = name_prefix + row[name_idx]
        if with_namespace:
            row.insert(0, _meta(obj).get("namespace") or "")
        if show_labels:
            row.append(format_labels(_meta(obj).get("labels")))
        rows.append(row)
    return headers, rows
