"""``kl why POD``: the whole life of a pod in a few lines: why it is not scheduled (node
by node, GPU by GPU), or where it went and why it is not running yet (each container's
reason, the last event, the fix), not ready (the probe and its last failure), running
and ready, or finished (phase and exit codes)."""

from __future__ import annotations

import argparse
from typing import Any

from api.errors import ApiError
from api.nodestatus import node_status
from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.describing.common import fetch_events
from kubectl.gpus import (
    holders,
    node_gpus,
    pod_gpu_request,
    pod_gpu_uuids,
    pod_key,
    scheduling_reasons,
)
from kubectl.podlife import explain_lifecycle
from kubectl.printers.age import age
from kubectl.resources import registry_info

EXAMPLES = """
  kl why train-7x2k9            # pending: every node's reason; running: where and which GPUs
  kl why web-5d8f-x2x4          # placed but not running: ErrImagePull, CrashLoopBackOff, ...
  kl why pod/train-7x2k9 -n research
"""

PODS = registry_info("pods")
NODES = registry_info("nodes")


# The events kubelab autoscaler records on a pending pod (autoscaler/autoscaler.py).
AUTOSCALER_REASONS = ("TriggeredScaleUp", "NotTriggerScaleUp", "WakeFailed")


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(
        sub, parent, "why", "Explain where a pod is in its life, and what holds it", EXAMPLES
    )
    p.add_argument("pod", metavar="POD | pod/NAME")
    p.set_defaults(run=run)


def _condition(pod: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


def explain_pending(
    pod: dict[str, Any], events: list[dict[str, Any]], nodes: list[dict[str, Any]] | None = None
) -> list[str]:
    """Lines explaining why ``pod`` is not placed: the scheduler's summary, each node's
    reasons, each GPU's, the PodScheduled condition and the FailedScheduling events."""
    lines = [f"pod {pod_key(pod)} is Pending: not scheduled yet"]
    want = pod_gpu_request(pod)
    if want:
        lines.append(f"  it asks for {want} GPU{'s' if want != 1 else ''} (nvidia.com/gpu)")
    reasons = scheduling_reasons(pod)
    cond = _condition(pod, "PodScheduled")
    if reasons:
        if reasons.get("summary"):
            lines.append(f"scheduler: {reasons['summary']}")
        node_reasons = reasons.get("nodes") or {}
        gpu_reasons = reasons.get("gpus") or {}
        if node_reasons:
            lines.append("nodes:")
            for node in sorted(node_reasons):
                why = node_reasons[node]
                text = "; ".join(why) if isinstance(why, list) else str(why)
                lines.append(f"  {node}: {text or 'fits'}")
                g = gpu_reasons.get(node) if isinstance(gpu_reasons, dict) else None
                lines.extend(_gpu_lines(g))
        other_gpu = (
            {k: v for k, v in gpu_reasons.items() if k not in node_reasons}
            if isinstance(gpu_reasons, dict)
            else {}
        )
        if other_gpu:
            lines.append("gpus:")
            for node in sorted(other_gpu):
                lines.append(f"  {node}:")
                lines.extend(_gpu_lines(other_gpu[node]))
    elif cond and cond.get("status") == "False":
        lines.append(f"scheduler: {cond.get('message') or cond.get('reason')}")
    else:
        lines.append(
            "the scheduler has not reported on this pod yet (is `kubelab scheduler` running?)"
        )
    if cond and cond.get("status") == "False":
        lines.append(
            f"condition PodScheduled=False reason={cond.get('reason')} "
            f"(since {age(cond.get('lastTransitionTime'))} ago)"
        )
    failed = [e for e in events if e.get("reason") == "FailedScheduling"]
    if failed:
        last = max(failed, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
        count = sum(int(e.get("count") or 1) for e in failed)
        lines.append(
            f"events: FailedScheduling x{count}, last {age(last.get('lastTimestamp') or last.get('eventTime'))} ago: "
            + " ".join(str(last.get("message") or "").split())
        )
    # The lab autoscaler's word on it (kubelab autoscaler): a box woken for it, why none
    # could be, or a wake that failed; the latest of them.
    power = [e for e in events if e.get("reason") in AUTOSCALER_REASONS]
    if power:
        last = max(power, key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or ""))
        lines.append(
            f"autoscaler: {last.get('reason')} "
            f"{age(last.get('lastTimestamp') or last.get('eventTime'))} ago: "
            + " ".join(str(last.get("message") or "").split())
        )
    sel = (pod.get("spec") or {}).get("nodeSelector")
    if sel:
        lines.append("nodeSelector: " + ",".join(f"{k}={v}" for k, v in sorted(sel.items())))
    if nodes is not None and not nodes:
        lines.append(
            "there are no nodes in the cluster: start a kubelet (`kubelab kubelet` or `kubelab up`)"
        )
    return lines


def _gpu_lines(g: Any) -> list[str]:
    if not g:
        return []
    out = []
    if isinstance(g, dict):
        for uuid, why in g.items():
            text = "; ".join(why) if isinstance(why, list) else str(why)
            out.append(f"    gpu {uuid}: {text}")
    elif isinstance(g, list):
        out.extend(f"    {x}" for x in g)
    else:
        out.append(f"    {g}")
    return out


def explain_placed(
    pod: dict[str, Any], node: dict[str, Any] | None, events: list[dict[str, Any]]
) -> list[str]:
    """Lines saying where a bound pod went: node, its state, each GPU it holds."""
    spec, st = pod.get("spec") or {}, pod.get("status") or {}
    node_name = spec.get("nodeName")
    phase = st.get("phase") or "Pending"
    lines = [f"pod {pod_key(pod)} is {phase} on node {node_name}"]
    if node is not None:
        lines.append(f"  node {node_name}: {node_status(node)}")
    uuids = pod_gpu_uuids(pod)
    if uuids:
        by_uuid = {g.get("uuid"): g for g in node_gpus(node)} if node else {}
        lines.append(f"GPUs ({len(uuids)}):")
        for u in uuids:
            g = by_uuid.get(u)
            if g:
                lines.append(
                    f"  gpu {g.get('index')}  {u}  {g.get('model', '')}  "
                    f"{g.get('memoryMiB', '?')}MiB  {g.get('health', '')}".rstrip()
                )
            else:
                lines.append(f"  {u}")
    elif pod_gpu_request(pod):
        lines.append("it asked for GPUs, but no kubelab.io/gpu-uuids annotation was recorded")
    else:
        lines.append("no GPUs (the pod does not ask for nvidia.com/gpu)")
    scheduled = [e for e in events if e.get("reason") == "Scheduled"]
    if scheduled:
        lines.append("scheduler: " + " ".join(str(scheduled[-1].get("message") or "").split()))
    reasons = scheduling_reasons(pod)
    if reasons and reasons.get("summary"):
        lines.append(f"scheduler notes: {reasons['summary']}")
    return lines


def run(ctx: Ctx) -> int:
    name = (
        ctx.args.pod.split("/", 1)[1]
        if ctx.args.pod.startswith(("pod/", "pods/", "po/"))
        else ctx.args.pod
    )
    pod = ctx.client.get(PODS, name, ctx.namespace)
    events = fetch_events(ctx.client, pod, "Pod")
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        nodes = ctx.client.list_all(NODES)["items"]
        lines = explain_pending(pod, events, nodes)
        if nodes and not scheduling_reasons(pod):
            pods = ctx.client.list_all(PODS, None)["items"]
            lines.extend(_gpu_inventory(nodes, pods, pod_gpu_request(pod)))
    else:
        node = None
        try:
            node = ctx.client.get(NODES, node_name)
        except ApiError as e:
            if e.code != 404:
                raise
        lines = explain_placed(pod, node, events)
        lines.extend(explain_lifecycle(pod, events))
    for line in lines:
        ctx.out(line)
    return 0


def _gpu_inventory(nodes: list[dict[str, Any]], pods: list[dict[str, Any]], want: int) -> list[str]:
    """Free GPUs per node, computed here when the scheduler left no reasons."""
    if not want:
        return []
    held = holders(pods)
    lines = ["GPUs free per node (computed by kl):"]
    for n in nodes:
        name = n["metadata"]["name"]
        gpus = node_gpus(n)
        free = [
            g
            for g in gpus
            if (name, g.get("uuid")) not in held and g.get("health", "Healthy") == "Healthy"
        ]
        lines.append(f"  {name}: {len(free)} of {len(gpus)} GPUs free, pod needs {want}")
    return lines
