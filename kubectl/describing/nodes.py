"""The describe page of a Node: conditions, capacity, each GPU and the pod holding it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.quantity import bytes_value, cpu_millis, format_quantity
from api.registry import ResourceInfo
from kubectl.describing.common import annotations_section, conditions_table
from kubectl.describing.writer import NONE, Page, when
from kubectl.gpus import holders, mib, node_gpus, pod_gpu_uuids, pod_is_live, pod_key
from kubectl.printers.age import age
from kubectl.printers.columns import node_roles
from kubectl.usage import pod_requests_limits


def describe_node(
    page: Page,
    node: dict[str, Any],
    info: ResourceInfo,
    pods: list[dict[str, Any]],
    lease: dict[str, Any] | None = None,
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
    lease_section(page, lease)
    conds = st.get("conditions") or []
    if conds:
        conditions_table(
            page,
            0,
            conds,
            ["type", "status", "lastHeartbeatTime", "lastTransitionTime", "reason", "message"],
            padded=5,
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
        ("Kube-Proxy Version", "kubeProxyVersion"),
    ):
        page.kv(1, label, ni.get(key, ""))
    # As kubectl: the node's pod subnet (node IPAM's), only once it has one.
    if spec.get("podCIDR"):
        page.kv(0, "PodCIDR", spec["podCIDR"])
    if spec.get("podCIDRs"):
        page.kv(0, "PodCIDRs", ",".join(str(c) for c in spec["podCIDRs"]))
    on_node = [p for p in pods if (p.get("spec") or {}).get("nodeName") == name and pod_is_live(p)]
    allocatable = st.get("allocatable") or {}
    _pods(page, on_node, allocatable)
    _allocated(page, allocatable, on_node)
    # kubelab's own section last, so everything above lines up exactly as in kubectl.
    _gpus(page, node, on_node)


def lease_section(page: Page, lease: dict[str, Any] | None) -> None:
    """``Lease:`` (holder, acquire and renew times), between Unschedulable and Conditions."""
    if lease is None:
        return
    spec = lease.get("spec") or {}
    page.line(0, "Lease:")
    page.kv(1, "HolderIdentity", spec.get("holderIdentity") or NONE)
    page.kv(1, "AcquireTime", when(spec.get("acquireTime")))
    page.kv(1, "RenewTime", when(spec.get("renewTime")))


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


def _pods(page: Page, pods: list[dict[str, Any]], allocatable: dict[str, Any]) -> None:
    page.line(0, f"Non-terminated Pods:\t({len(pods)} in total)")
    if not pods:
        return
    cpu_total = cpu_millis(allocatable.get("cpu", 0))
    mem_total = bytes_value(allocatable.get("memory", 0))
    rows = []
    for p in sorted(pods, key=pod_key):
        req, lim = pod_requests_limits(p)
        rows.append(
            [
                p["metadata"].get("namespace", ""),
                p["metadata"].get("name", ""),
                _cpu_pct(req.get("cpu", 0), cpu_total),
                _cpu_pct(lim.get("cpu", 0), cpu_total),
                _mem_pct(req.get("memory", 0), mem_total),
                _mem_pct(lim.get("memory", 0), mem_total),
                str(len(pod_gpu_uuids(p))),
                age(p["metadata"].get("creationTimestamp")),
            ]
        )
    headers = [
        "Namespace",
        "Name",
        "CPU Requests",
        "CPU Limits",
        "Memory Requests",
        "Memory Limits",
        "GPUs",
        "Age",
    ]
    page.table(1, headers, rows)


def _percent(used: int, total: int) -> str:
    return f"{(used * 100 // total) if total else 0}%"


def _cpu_pct(millis: int, total: int) -> str:
    text = format_quantity(Decimal(millis) / 1000) if millis else "0"
    return f"{text} ({_percent(millis, total)})"


def _mem_pct(n: int, total: int) -> str:
    return f"{format_quantity(n) if n else 0} ({_percent(n, total)})"


# Resources kubectl lists under "Allocated resources" before the extended ones.
_BASE = ("cpu", "memory", "ephemeral-storage")


def _allocated(page: Page, allocatable: dict[str, Any], pods: list[dict[str, Any]]) -> None:
    req_sum: dict[str, int] = {}
    lim_sum: dict[str, int] = {}
    for p in pods:
        req, lim = pod_requests_limits(p)
        for k, v in req.items():
            req_sum[k] = req_sum.get(k, 0) + v
        for k, v in lim.items():
            lim_sum[k] = lim_sum.get(k, 0) + v
    page.line(0, "Allocated resources:")
    page.line(1, "(Total limits may be over 100 percent, i.e., overcommitted.)")
    rows = [
        [
            "cpu",
            _cpu_pct(req_sum.get("cpu", 0), cpu_millis(allocatable.get("cpu", 0))),
            _cpu_pct(lim_sum.get("cpu", 0), cpu_millis(allocatable.get("cpu", 0))),
        ],
        [
            "memory",
            _mem_pct(req_sum.get("memory", 0), bytes_value(allocatable.get("memory", 0))),
            _mem_pct(lim_sum.get("memory", 0), bytes_value(allocatable.get("memory", 0))),
        ],
    ]
    if "ephemeral-storage" in allocatable:
        total = bytes_value(allocatable["ephemeral-storage"])
        rows.append(
            [
                "ephemeral-storage",
                _mem_pct(req_sum.get("ephemeral-storage", 0), total),
                _mem_pct(lim_sum.get("ephemeral-storage", 0), total),
            ]
        )
    for k in sorted(allocatable):
        if k in _BASE or k == "pods" or k.startswith("hugepages-"):
            continue
        rows.append([k, str(req_sum.get(k, 0)), str(lim_sum.get(k, 0))])
    page.table(1, ["Resource", "Requests", "Limits"], rows)
