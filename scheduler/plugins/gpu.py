"""GPU allocation: which node can give a pod its ``nvidia.com/gpu`` count, which exact
devices (UUIDs from the node's ``status.gpus``) it gets, and where GPU and CPU-only pods
should go.

- Filter: enough free GPUs (allocatable minus requested, and no more than the healthy
  UUIDs no pod holds).
- Reserve: the lowest-index free healthy UUIDs, recorded on the Binding.
- Score, GPU pods: pack — fill partly used boxes first and keep whole boxes for big jobs.
- Score, CPU-only pods: stay off GPU boxes while other nodes fit (a static score whose
  weight outweighs every other plugin's).
"""

from __future__ import annotations

from scheduler.framework import Rejection
from scheduler.hints import ALL_EVENTS, ClusterEvent, QueueingHint, hint_if_passes
from scheduler.podinfo import GPU_RESOURCE, PodInfo
from scheduler.snapshot import NodeInfo

REASON = f"Insufficient {GPU_RESOURCE}"


def total_gpus(node: NodeInfo) -> int:
    """How many GPUs the node has (its device list, else its allocatable count)."""
    return len(node.gpus) or node.alloc_gpus


def gpu_shortage(pod: PodInfo, node: NodeInfo) -> str:
    """``1 of 4 GPUs free, pod needs 2`` (plus unhealthy devices, when there are any)."""
    free = node.free_gpu_count()
    total = total_gpus(node)
    text = f"{free} of {total} GPUs free, pod needs {pod.gpus}"
    unhealthy = sum(1 for g in node.gpus if not g.healthy)
    if unhealthy:
        text += f" ({unhealthy} unhealthy)"
    return text


def describe_gpus(node: NodeInfo) -> list[str]:
    """One line per GPU of ``node``: free, unhealthy, or held by which pod (for ``kl why``)."""
    lines = []
    for g in node.gpus:
        holder = node.gpus_in_use.get(g.uuid)
        if holder:
            owner = node.pods.get(holder)
            state = f"in use by {holder}" + (
                " (terminating)" if owner and owner.terminating else ""
            )
        elif not g.healthy:
            state = "unhealthy"
        else:
            state = "free"
        model = f" {g.model}" if g.model else ""
        lines.append(f"{g.uuid} (#{g.index}{model}): {state}")
    return lines


def choose_gpus(pod: PodInfo, node: NodeInfo) -> list[str] | None:
    """The UUIDs to give ``pod`` on ``node``: ``[]`` when it needs none or the node does
    not list devices (count-only accounting), None when they are not free."""
    if pod.gpus <= 0 or not node.gpus:
        return [] if node.free_gpu_count() >= pod.gpus else None
    free = node.free_gpu_uuids()
    if len(free) < pod.gpus or node.alloc_gpus - node.req_gpus < pod.gpus:
        return None
    return free[: pod.gpus]


class GpuFit:
    """Filter: the node has ``pod.gpus`` free healthy GPUs."""

    name = "GpuFit"
    static = False
    # The events that can undo a rejection: a node with enough free GPUs: added, changed, or a pod on it gone.
    events = ALL_EVENTS

    def relevant(self, pod: PodInfo) -> bool:
        return pod.gpus > 0

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        return hint_if_passes(self, pod, event)

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        if node.free_gpu_count() >= pod.gpus:
            return None
        return Rejection((REASON,), gpu_shortage(pod, node))


class GpuReserve:
    """Reserve: pick the exact GPU UUIDs on the chosen node."""

    name = "GpuReserve"

    def reserve(self, pod: PodInfo, node: NodeInfo) -> dict[str, list[str]] | None:
        uuids = choose_gpus(pod, node)
        if uuids is None:
            return None
        return {"gpus": uuids}


class GpuPack:
    """Score GPU pods: the fuller a box's GPUs would be after placing the pod, the better."""

    name = "GpuPack"
    static = False
    weight = 5

    def relevant(self, pod: PodInfo) -> bool:
        return pod.gpus > 0

    def score(self, pod: PodInfo, node: NodeInfo) -> int:
        total = node.alloc_gpus
        if total <= 0:
            return 0
        return min(100, (node.req_gpus + pod.gpus) * 100 // total)


class GpuAvoid:
    """Score CPU-only pods: 0 on a node with GPUs, 100 elsewhere. Weighted above all
    other scores together, so a GPU box is only used when no other node fits."""

    name = "GpuAvoid"
    static = True
    weight = 10

    def relevant(self, pod: PodInfo) -> bool:
        return pod.gpus == 0

    def score(self, pod: PodInfo, node: NodeInfo) -> int:
        return 0 if node.alloc_gpus > 0 or node.gpus else 100
