"""GPU allocation: which node can give a pod its ``nvidia.com/gpu`` count, which exact
devices (UUIDs from the node's ``status.gpus``) it gets, and where GPU and CPU-only pods
should go.

- Filter: enough free GPUs (allocatable minus requested, and no more than the healthy
  UUIDs no pod holds).
- Reserve: the lowest-index free healthy UUIDs, recorded on the Binding.
- Part of a GPU (``kubelab.io/gpu-memory``): the pod shares one device with others, packed
  by declared memory (the fullest device that still fits); a device is either held whole
  or shared, never both.
- Score, GPU pods: pack — fill partly used boxes first and keep whole boxes for big jobs.
- Score, CPU-only pods: stay off GPU boxes while other nodes fit (a static score whose
  weight outweighs every other plugin's).
"""

from __future__ import annotations

from api.gpus import GPU_MEMORY_RESOURCE, GPU_RESOURCE
from scheduler.framework import Rejection
from scheduler.hints import ALL_EVENTS, ClusterEvent, QueueingHint, hint_if_passes
from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo

REASON = f"Insufficient {GPU_RESOURCE}"
MIB = 1024 * 1024


def format_bytes(n: int) -> str:
    """``10Gi``, ``81559Mi``: memory as ``kubectl`` users read it (MiB precision)."""
    return f"{n // (1024 * MIB)}Gi" if n % (1024 * MIB) == 0 else f"{n // MIB}Mi"


MEMORY_REASON = f"Insufficient {GPU_MEMORY_RESOURCE}"


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


def memory_shortage(pod: PodInfo, node: NodeInfo) -> str:
    """``no GPU has 20Gi of memory free (most free: 12Gi on GPU-...)``."""
    best = max(
        (
            (node.gpu_memory_free(g.uuid, g.memory_mib), g.uuid)
            for g in node.gpus
            if g.healthy and g.uuid not in node.gpus_in_use
        ),
        default=None,
    )
    want = format_bytes(pod.gpu_memory)
    if best is None:
        return f"no GPU can be shared, pod needs {want} of one"
    return f"no GPU has {want} of memory free (most free: {format_bytes(best[0])} on {best[1]})"


def describe_gpus(node: NodeInfo) -> list[str]:
    """One line per GPU of ``node``: free, unhealthy, held by which pod, or shared with how
    much memory left (for ``kl why``)."""
    lines = []
    for g in node.gpus:
        holder = node.gpus_in_use.get(g.uuid)
        sharers = node.gpu_memory_used.get(g.uuid)
        if sharers and g.healthy:
            free = format_bytes(node.gpu_memory_free(g.uuid, g.memory_mib))
            state = f"shared by {', '.join(sorted(sharers))}, {free} of memory free"
        elif holder:
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


def shared_gpu_for(pod: PodInfo, node: NodeInfo) -> str | None:
    """The device a memory-sharing pod goes to: the healthy one, held by no pod whole,
    with the least free memory that still fits (packing), lowest index first."""
    best: tuple[int, int, str] | None = None
    for g in node.gpus:
        if not g.healthy or g.uuid in node.gpus_in_use:
            continue
        free = node.gpu_memory_free(g.uuid, g.memory_mib)
        if free >= pod.gpu_memory and (best is None or (free, g.index) < best[:2]):
            best = (free, g.index, g.uuid)
    return best[2] if best else None


def choose_gpus(pod: PodInfo, node: NodeInfo) -> list[str] | None:
    """The UUIDs to give ``pod`` on ``node``: ``[]`` when it needs none or the node does
    not list devices (count-only accounting), None when they are not free."""
    if pod.gpu_memory:
        shared = shared_gpu_for(pod, node)
        return [shared] if shared else None
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
        return pod.gpus > 0 or pod.gpu_memory > 0

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        return hint_if_passes(self, pod, event)

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        if pod.gpu_memory:
            if shared_gpu_for(pod, node) is not None:
                return None
            return Rejection((MEMORY_REASON,), memory_shortage(pod, node))
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
