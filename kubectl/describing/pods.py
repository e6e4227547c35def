"""The describe page of a Pod."""

from __future__ import annotations

import json
from typing import Any

from api.registry import ResourceInfo
from kubectl.describing.common import (
    HOST_PORTS,
    annotations_section,
    conditions_table,
    container,
    controlled_by,
    tolerations,
    volumes,
)
from kubectl.describing.writer import NONE, Page, when
from kubectl.gpus import pod_gpu_uuids, scheduling_reasons
from kubectl.printers.age import age


def describe_pod(page: Page, pod: dict[str, Any], info: ResourceInfo) -> None:
    m, spec, st = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    page.kv(0, "Name", m.get("name"))
    page.kv(0, "Namespace", m.get("namespace"))
    if spec.get("priority") is not None:
        page.kv(0, "Priority", spec["priority"])
    if spec.get("serviceAccountName"):
        page.kv(0, "Service Account", spec["serviceAccountName"])
    node = spec.get("nodeName")
    page.kv(0, "Node", f"{node}/{st.get('hostIP')}" if node and st.get("hostIP") else node)
    page.kv(0, "Start Time", when(st.get("startTime")) if st.get("startTime") else None)
    page.map(0, "Labels", m.get("labels"))
    annotations_section(page, 0, m.get("annotations"))
    status_text = st.get("phase") or "Pending"
    if m.get("deletionTimestamp"):
        status_text = f"Terminating (lasts {age(m['deletionTimestamp'])})"
        page.kv(0, "Status", status_text)
        page.kv(0, "Termination Grace Period", f"{m.get('deletionGracePeriodSeconds', 30)}s")
    else:
        page.kv(0, "Status", status_text)
    if st.get("reason"):
        page.kv(0, "Reason", st["reason"])
    if st.get("message"):
        page.kv(0, "Message", " ".join(str(st["message"]).split()))
    page.kv(0, "IP", st.get("podIP"))
    ips = [i.get("ip") for i in st.get("podIPs") or []] or (
        [st["podIP"]] if st.get("podIP") else []
    )
    if ips:
        page.line(0, "IPs:")
        for ip in ips:
            page.kv(1, "IP", ip)
    uuids = pod_gpu_uuids(pod)
    page.kv(0, "GPUs", ", ".join(uuids) if uuids else None)
    ctrl = controlled_by(pod)
    if ctrl:
        page.kv(0, "Controlled By", ctrl)
    host_ports: dict[str, Any] = {}
    try:
        host_ports = json.loads((m.get("annotations") or {}).get(HOST_PORTS) or "{}")
    except ValueError:
        pass
    statuses = {s.get("name"): s for s in st.get("containerStatuses") or []}
    init_statuses = {s.get("name"): s for s in st.get("initContainerStatuses") or []}
    if spec.get("initContainers"):
        page.line(0, "Init Containers:")
        for c in spec["initContainers"]:
            container(page, 1, c, init_statuses.get(c.get("name"), {}), host_ports)
    page.line(0, "Containers:")
    for c in spec.get("containers") or []:
        container(page, 1, c, statuses.get(c.get("name"), {}), host_ports)
    conds = st.get("conditions") or []
    if conds:
        conditions_table(page, 0, conds, ["type", "status"], padded=2, underline=False)
    volumes(page, 0, spec.get("volumes"))
    page.kv(0, "QoS Class", st.get("qosClass") or qos_class(pod))
    page.map(0, "Node-Selectors", spec.get("nodeSelector"), sep="=")
    tolerations(page, 0, spec.get("tolerations"))
    if not node:
        _scheduling(page, pod)


def _scheduling(page: Page, pod: dict[str, Any]) -> None:
    """For a pending pod: the scheduler's per-node reasons (also shown by ``kl why``)."""
    reasons = scheduling_reasons(pod)
    if not reasons:
        return
    page.kv(0, "Scheduling", reasons.get("summary") or NONE)
    for node, why in sorted((reasons.get("nodes") or {}).items()):
        text = "; ".join(why) if isinstance(why, list) else str(why)
        page.line(1, f"{node}:", text)


def qos_class(pod: dict[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, by Kubernetes' rules on cpu and memory."""
    containers = [
        *((pod.get("spec") or {}).get("containers") or []),
        *((pod.get("spec") or {}).get("initContainers") or []),
    ]
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        limits = {k: v for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        requests = {k: v for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        if limits or requests:
            any_set = True
        if set(limits) != {"cpu", "memory"} or any(
            requests.get(k, limits[k]) != limits[k] for k in limits
        ):
            guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"
