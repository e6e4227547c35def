"""``kl top nodes|pods|gpus|queues``: what is requested against what each node offers, who
holds each GPU, and what each GPU queue uses (kubectl/cmd/top_queues.py)."""

from __future__ import annotations

import argparse
from typing import Any

from api.errors import ApiError
from api.quantity import bytes_value, cpu_millis
from kubectl.cli import KlParser
from kubectl.cmd.top_queues import top_queues
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.gpus import GPU_RESOURCE, holders, mib, node_gpus, pod_gpu_uuids, pod_is_live, pod_key
from kubectl.printers.table import render_table
from kubectl.usage import pod_requests_limits

EXAMPLES = """
  kl top nodes            # cpu and memory used vs allocatable, GPUs used/total, GPU watts
  kl top gpus             # one line per GPU: node, model, memory, utilization, holder
  kl top pods -A          # what each pod uses, and its GPUs
  kl top queues           # each GPU queue: used/share, borrowed, waiting jobs, GPU-hours
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "top",
        parents=[parent],
        help="Show resource use of nodes, pods, GPUs and GPU queues",
        description="Show resource use of nodes, pods, GPUs and GPU queues: CPU and memory "
        "as the kubelets measure them (metrics.k8s.io, as kubectl top shows it); where no "
        "node has reported yet, what pods request.",
        epilog="examples:\n" + EXAMPLES.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(run=_need_what)
    what = p.add_subparsers(title="what", metavar="WHAT", parser_class=KlParser)
    for name, aliases, fn, summary in (
        ("nodes", ["node", "no"], top_nodes, "cpu, memory, GPUs and GPU watts per node"),
        ("pods", ["pod", "po"], top_pods, "requests and GPUs per pod"),
        ("gpus", ["gpu"], top_gpus, "one line per GPU: its use and the pod holding it"),
        (
            "queues",
            ["queue"],
            top_queues,
            "per GPU queue: GPUs used/share, borrowed, waiting jobs, GPU-hours this week",
        ),
    ):
        v = what.add_parser(
            name,
            aliases=aliases,
            parents=[parent],
            help=summary,
            description=summary,
            epilog="examples:\n" + EXAMPLES.strip("\n"),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        v.add_argument("names", nargs="*", metavar="NAME")
        v.add_argument("-l", "--selector", help="label selector")
        v.add_argument("--no-headers", action="store_true", help="print no header line")
        if name == "gpus":
            v.add_argument("-o", "--output", choices=["wide"], help="'wide' adds the GPU UUID")
        v.set_defaults(run=fn)


def _need_what(ctx: Ctx) -> int:
    raise CliError("say what: kl top nodes|pods|gpus|queues")


def _live_pods(ctx: Ctx, ns: str | None = None) -> list[dict[str, Any]]:
    return [p for p in ctx.client.list_all("pods", ns)["items"] if pod_is_live(p)]


def _nodes(ctx: Ctx) -> list[dict[str, Any]]:
    nodes = ctx.client.list_all("nodes", label_selector=ctx.args.selector)["items"]
    if ctx.args.names:
        nodes = [n for n in nodes if n["metadata"]["name"] in ctx.args.names]
        missing = set(ctx.args.names) - {n["metadata"]["name"] for n in nodes}
        if missing:
            raise CliError(f'nodes "{sorted(missing)[0]}" not found')
    return nodes


def _cpu(millis: int) -> str:
    return f"{millis}m" if millis % 1000 else f"{millis // 1000}"


def _mem(n: int) -> str:
    return f"{n // (1024 * 1024)}Mi"


def _pct(used: int, total: int) -> str:
    return f"{used * 100 // total}%" if total else "-"


def node_rows(nodes: list[dict[str, Any]], pods: list[dict[str, Any]]) -> list[list[str]]:
    """NAME, CPU(requests), CPU%, MEMORY(requests), MEMORY%, GPUS used/total per node."""
    rows = []
    for n in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = n["metadata"]["name"]
        alloc = (n.get("status") or {}).get("allocatable") or {}
        cpu = mem = 0
        used_gpus = 0
        for p in pods:
            if (p.get("spec") or {}).get("nodeName") != name:
                continue
            req, _ = pod_requests_limits(p)
            cpu += req.get("cpu", 0)
            mem += req.get("memory", 0)
            used_gpus += len(pod_gpu_uuids(p)) or req.get(GPU_RESOURCE, 0)
        total_gpus = len(node_gpus(n)) or int(bytes_value(alloc.get(GPU_RESOURCE, 0)))
        cpu_total = cpu_millis(alloc.get("cpu", 0))
        mem_total = bytes_value(alloc.get("memory", 0))
        rows.append(
            [
                name,
                _cpu(cpu),
                _pct(cpu, cpu_total),
                _mem(mem),
                _pct(mem, mem_total),
                f"{used_gpus}/{total_gpus}" if total_gpus or used_gpus else "-",
            ]
        )
    return rows


METRICS = "/apis/metrics.k8s.io/v1beta1"


def _metrics(ctx: Ctx, path: str, selector: str | None = None) -> dict[str, Any] | None:
    """What the metrics API has (by name), or None when it has nothing yet."""
    try:
        params = {"labelSelector": selector} if selector else None
        items = ctx.client.request("GET", METRICS + path, params=params).json()["items"]
    except (ApiError, KeyError, ValueError):
        return None
    if not items:
        return None
    return {f"{(i['metadata'].get('namespace') or '')}/{i['metadata']['name']}": i for i in items}


def watts(node_metrics: dict[str, Any] | None) -> str:
    """The WATTS cell: the node's GPUs' power summed, "-" where no GPU reports it."""
    powers = [g.get("powerWatts") for g in (node_metrics or {}).get("gpus") or []]
    known = [float(p) for p in powers if p is not None]
    return f"{sum(known):.0f}" if known else "-"


def _usage_rows(
    nodes: list[dict[str, Any]], pods: list[dict[str, Any]], usage: dict[str, Any]
) -> list[list[str]]:
    """NAME, CPU(cores), CPU(%), MEMORY(bytes), MEMORY(%), GPUS, WATTS: measured, the first
    five as kubectl top; WATTS is the node's GPUs' power draw."""
    rows = []
    for n, req_row in zip(
        sorted(nodes, key=lambda n: n["metadata"]["name"]), node_rows(nodes, pods), strict=True
    ):
        alloc = (n.get("status") or {}).get("allocatable") or {}
        reported = usage.get("/" + n["metadata"]["name"])
        u = (reported or {}).get("usage")
        if u is None:
            rows.append(
                [req_row[0], "<unknown>", "<unknown>", "<unknown>", "<unknown>", req_row[-1], "-"]
            )
            continue
        cpu, mem = cpu_millis(u.get("cpu", "0")), bytes_value(u.get("memory", "0"))
        cpu_total, mem_total = cpu_millis(alloc.get("cpu", 0)), bytes_value(alloc.get("memory", 0))
        rows.append(
            [
                req_row[0],
                f"{cpu}m",
                _pct(cpu, cpu_total),
                _mem(mem),
                _pct(mem, mem_total),
                req_row[-1],
                watts(reported),
            ]
        )
    return rows


def top_nodes(ctx: Ctx) -> int:
    nodes = _nodes(ctx)
    if not nodes:
        ctx.err("No resources found")
        return 0
    usage = _metrics(ctx, "/nodes")
    if usage is not None:
        headers = (
            []
            if ctx.args.no_headers
            else ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)", "GPUS", "WATTS"]
        )
        ctx.stdout.write(render_table(headers, _usage_rows(nodes, _live_pods(ctx), usage)))
        return 0
    ctx.err("no node has reported its usage yet (metrics.k8s.io is empty): showing requests")
    rows = node_rows(nodes, _live_pods(ctx))
    headers = (
        []
        if ctx.args.no_headers
        else ["NAME", "CPU(requests)", "CPU%", "MEMORY(requests)", "MEMORY%", "GPUS"]
    )
    ctx.stdout.write(render_table(headers, rows))
    return 0


def top_pods(ctx: Ctx) -> int:
    pods = [
        p
        for p in ctx.client.list_all(
            "pods", ctx.list_namespace(), label_selector=ctx.args.selector
        )["items"]
        if pod_is_live(p)
    ]
    if ctx.args.names:
        pods = [p for p in pods if p["metadata"]["name"] in ctx.args.names]
    if not pods:
        ctx.err(
            "No resources found"
            if ctx.all_namespaces
            else f"No resources found in {ctx.namespace} namespace."
        )
        return 0
    ns = ctx.list_namespace()
    usage = _metrics(ctx, f"/namespaces/{ns}/pods" if ns else "/pods", ctx.args.selector)
    if usage is None:
        ctx.err("no pod's usage has been reported yet (metrics.k8s.io is empty): showing requests")
    rows = []
    for p in sorted(pods, key=pod_key):
        req, _ = pod_requests_limits(p)
        gpus = ",".join(pod_gpu_uuids(p)) or str(req.get(GPU_RESOURCE, 0) or "-")
        meta = p["metadata"]
        if usage is not None:
            m = usage.get(f"{meta.get('namespace', '')}/{meta['name']}")
            cs = (m or {}).get("containers") or []
            if m is None:
                row = [meta["name"], "<unknown>", "<unknown>", gpus]
            else:
                cpu = sum(cpu_millis((c.get("usage") or {}).get("cpu", "0")) for c in cs)
                mem = sum(bytes_value((c.get("usage") or {}).get("memory", "0")) for c in cs)
                row = [meta["name"], f"{cpu}m", _mem(mem), gpus]
        else:
            row = [meta["name"], _cpu(req.get("cpu", 0)), _mem(req.get("memory", 0)), gpus]
        if ctx.all_namespaces:
            row.insert(0, p["metadata"].get("namespace", ""))
        rows.append(row)
    headers = (
        ["NAME", "CPU(cores)", "MEMORY(bytes)", "GPUS"]
        if usage is not None
        else ["NAME", "CPU(requests)", "MEMORY(requests)", "GPUS"]
    )
    if ctx.all_namespaces:
        headers.insert(0, "NAMESPACE")
    ctx.stdout.write(render_table([] if ctx.args.no_headers else headers, rows))
    return 0


def _first(g: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        if g.get(k) is not None:
            return g[k]
    return None


def reported_gpus(node_metrics: dict[str, Any] | None) -> dict[tuple[str, str], dict[str, Any]]:
    """(node, GPU UUID) -> what its kubelet last measured of it (NodeMetrics' ``gpus``)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for key, m in (node_metrics or {}).items():
        for g in m.get("gpus") or []:
            out[(key.lstrip("/"), str(g.get("uuid", "")))] = g
    return out


def gpu_rows(
    nodes: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    wide: bool,
    measured: dict[tuple[str, str], dict[str, Any]] | None = None,
) -> list[list[str]]:
    """NODE, INDEX, MODEL, MEMORY used/total, UTIL, HEALTH, POD (and UUID when wide); used
    memory and utilisation as the kubelet measured them (``measured``, by node and UUID)."""
    held = holders(pods)
    rows = []
    for n in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        name = n["metadata"]["name"]
        for g in node_gpus(n):
            uuid = str(g.get("uuid", ""))
            holder = held.get((name, uuid))
            m = (measured or {}).get((name, uuid))
            used = _first(g, "memoryUsedMiB", "memoryUsed")
            util = _first(g, "utilizationPercent", "utilization", "utilizationGpu")
            if m is not None:
                if m.get("memoryUsed") is not None:
                    used = bytes_value(m["memoryUsed"]) // (1024 * 1024)
                util = m.get("utilization", util)
            memory = f"{mib(used) if used is not None else '-'}/{mib(g.get('memoryMiB'))}"
            row = [
                name,
                str(g.get("index", "")),
                str(g.get("model", "")),
                memory,
                f"{util}%" if util is not None else "-",
                str(g.get("health", "")),
                pod_key(holder) if holder else "<free>",
            ]
            if wide:
                row.insert(2, uuid)
            rows.append(row)
    return rows


def top_gpus(ctx: Ctx) -> int:
    nodes = _nodes(ctx)
    wide = ctx.args.output == "wide"
    rows = gpu_rows(nodes, _live_pods(ctx), wide, reported_gpus(_metrics(ctx, "/nodes")))
    if not rows:
        ctx.err("No GPUs found (start a kubelet on a GPU box, or one with --fake-gpus 4)")
        return 0
    headers = ["NODE", "INDEX", "MODEL", "MEMORY(used/total)", "UTIL", "HEALTH", "POD"]
    if wide:
        headers.insert(2, "UUID")
    ctx.stdout.write(render_table([] if ctx.args.no_headers else headers, rows))
    return 0
