"""The describe page of a Node: conditions, capacity, each GPU and the pod holding it."""

from __future__ import annotations

from typing import Any

from api.quantity import bytes_value, cpu_millis, format_quantity
from api.registry import ResourceInfo
from kubectl.describing.common import annotations_section, conditions_table
from kubectl.describing.writer import NONE, Page, when
from kubectl.gpus import GPU_RESOURCE, holders, mib, node_gpus, pod_gpu_uuids, pod_is_live, pod_key
from kubectl.printers.age import age
from kubectl.printers.columns import node_roles
from kubectl.usage import pod_requests_limits


def describe_node(
    page: Page, node: dict[str, Any], info: ResourceInfo, pods: list[dict[str, Any]]
) -> None:
    m, spec, st = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
    name = m.get("name", "")
    page.kv(0, "Name", name)
    page.kv(0, "Roles", node_roles(node))
    page.map(0, "Labels", m.get("labels"))
    annotations_section(page, 0, m.get("annotations"))
    page.kv(0, "CreationTimestamp", when(m.get("creationTimestamp")))
    taints = [
        f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
        for t in spec.get("taints") or []
    ]
    if taints:
        page.line(0, "Taints:", taints[0])
        for t in taints[1:]:
            page.line(0, "", t)
    else:
        page.kv(0, "Taints", NONE)
    page.kv(0, "Unschedulable", "true" if spec.get("unschedulable") else "false")
    conds = st.get("conditions") or []
    if conds:
        conditions_table(
            page,
            0,
            conds,
            ["type", "status", "lastHeartbeatTime", "lastTransitionTime", "reason", "message"],
        )
    page.line(0, "Addresses:")
    for a in st.get("addresses") or []:
        page.kv(1, a.get("type", ""), a.get("address"))
    for label, key in (("Capacity", "capacity"), ("Allocatable", "allocatable")):
        page.line(0, f"{label}:")
        for k, v in sorted((st.get(key) or {}).items()):
            page.kv(1, k, v)
    ni = st.get("nodeInfo") or {}
    page.line(0, "System Info:")
    for label, key in (
        ("Machine ID", "machineID"),
        ("System UUID", "systemUUID"),
        ("Boot ID", "bootID"),
        ("Kernel Version", "kernelVersion"),
        ("OS Image", "osImage"),
        ("Operating System", "operatingSystem"),
        ("Architecture", "architecture"),
        ("Container Runtime Version", "containerRuntimeVersion"),
        ("Kubelet Version", "kubeletVersion"),
    ):
        page.kv(1, label, ni.get(key, ""))
    on_node = [p for p in pods if (p.get("spec") or {}).get("nodeName") == name and pod_is_live(p)]
    _gpus(page, node, on_node)
    _pods(page, on_node)
    _allocated(page, st.get("allocatable") or {}, on_node)


def _gpus(page: Page, node: dict[str, Any], pods: list[dict[str, Any]]) -> None:
    gpus = node_gpus(node)
    if not gpus:
        page.kv(0, "GPUs", NONE)
        return
    name = node["metadata"]["name"]
    held = holders(pods)
    page.line(0, "GPUs:")
    rows = []
    for g in gpus:
        holder = held.get((name, str(g.get("uuid"))))
        rows.append(
            [
                str(g.get("index", "")),
                str(g.get("uuid", "")),
                str(g.get("model", "")),
                mib(g.get("memoryMiB")),
                str(g.get("health", "")),
                pod_key(holder) if holder else "<free>",
            ]
        )
    page.aligned_table(1, ["Index", "UUID", "Model", "Memory", "Health", "Pod"], rows)


def _pods(page: Page, pods: list[dict[str, Any]]) -> None:
    page.line(0, f"Non-terminated Pods:\t({len(pods)} in total)")
    if not pods:
        return
    rows = []
    for p in sorted(pods, key=pod_key):
        req, lim = pod_requests_limits(p)
        rows.append(
            [
                p["metadata"].get("namespace", ""),
                p["metadata"].get("name", ""),
                format_quantity(req.get("cpu", 0) / 1000) if req.get("cpu") else "0",
                format_quantity(lim.get("cpu", 0) / 1000) if lim.get("cpu") else "0",
                format_quantity(req.get("memory", 0)) if req.get("memory") else "0",
                format_quantity(lim.get("memory", 0)) if lim.get("memory") else "0",
                str(len(pod_gpu_uuids(p))),
                age(p["metadata"].get("creationTimestamp")),
            ]
        )
    page.table(
        1,
        [
            "Namespace",
            "Name",
            "CPU Requests",
            "CPU Limits",
            "Memory Requests",
            "Memory Limits",
            "GPUs",
            "Age",
        ],
        rows,
    )


def _percent(used: int, total: int) -> str:
    return f"{(used * 100 // total) if total else 0}%"


def _allocated(page: Page, allocatable: dict[str, Any], pods: list[dict[str, Any]]) -> None:
    req_cpu = lim_cpu = req_mem = lim_mem = gpus = 0
    for p in pods:
        req, lim = pod_requests_limits(p)
        req_cpu += req.get("cpu", 0)
        lim_cpu += lim.get("cpu", 0)
        req_mem += req.get("memory", 0)
        lim_mem += lim.get("memory", 0)
        gpus += req.get(GPU_RESOURCE, 0)
    cpu_total = cpu_millis(allocatable.get("cpu", 0))
    mem_total = bytes_value(allocatable.get("memory", 0))
    page.line(0, "Allocated resources:")
    page.line(1, "(Total limits may be over 100 percent, i.e., overcommitted.)")
    rows = [
        [
            "cpu",
            f"{format_quantity(req_cpu / 1000) if req_cpu else 0} ({_percent(req_cpu, cpu_total)})",
            f"{format_quantity(lim_cpu / 1000) if lim_cpu else 0} ({_percent(lim_cpu, cpu_total)})",
        ],
        [
            "memory",
            f"{format_quantity(req_mem) if req_mem else 0} ({_percent(req_mem, mem_total)})",
            f"{format_quantity(lim_mem) if lim_mem else 0} ({_percent(lim_mem, mem_total)})",
        ],
    ]
    if allocatable.get(GPU_RESOURCE) is not None or gpus:
        rows.append([GPU_RESOURCE, str(gpus), str(gpus)])
    page.table(1, ["Resource", "Requests", "Limits"], rows)
