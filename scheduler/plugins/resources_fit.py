"""NodeResourcesFit: cpu, memory, pod count and extended resources must fit in the node's
allocatable minus what its pods (bound and assumed) request; scores least-allocated nodes
highest so that pods spread. GPUs (``nvidia.com/gpu``) are the GPU plugin's job."""

from __future__ import annotations

from scheduler.framework import Rejection
from scheduler.hints import ALL_EVENTS, ClusterEvent, QueueingHint, hint_if_passes
from scheduler.podinfo import PodInfo
from scheduler.snapshot import NodeInfo


def _mem(n: int) -> str:
    for unit, size in (("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n / (1 << 20):.0f}Mi" if n >= 1 << 20 else str(n)


class NodeResourcesFit:
    """Filter: requests fit in free allocatable. Score: least allocated (cpu and memory)."""

    name = "NodeResourcesFit"
    static = False
    # The events that can undo a rejection: a node whose free allocatable fits the pod: added, grown, or a pod on it gone.
    events = ALL_EVENTS
    weight = 1

    def relevant(self, pod: PodInfo) -> bool:
        return True

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        return hint_if_passes(self, pod, event)

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        # The common case in one expression: this runs for every node the loop checks.
        if (
            node.pod_count < node.alloc_pods
            and node.req_cpu + pod.cpu <= node.alloc_cpu
            and node.req_memory + pod.memory <= node.alloc_memory
            and not pod.scalar
        ):
            return None
        return self._reasons(pod, node)

    def _reasons(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        reasons: list[str] = []
        details: list[str] = []
        if node.pod_count >= node.alloc_pods:
            reasons.append("Too many pods")
            details.append(f"{node.pod_count} of {node.alloc_pods} pods")
        if pod.cpu and node.req_cpu + pod.cpu > node.alloc_cpu:
            reasons.append("Insufficient cpu")
            free = max(node.alloc_cpu - node.req_cpu, 0)
            details.append(f"cpu: pod needs {pod.cpu}m, {free}m of {node.alloc_cpu}m free")
        if pod.memory and node.req_memory + pod.memory > node.alloc_memory:
            reasons.append("Insufficient memory")
            free = max(node.alloc_memory - node.req_memory, 0)
            details.append(
                f"memory: pod needs {_mem(pod.memory)}, {_mem(free)} of {_mem(node.alloc_memory)} free"
            )
        for name, want in pod.scalar.items():
            if want and node.req_scalar.get(name, 0) + want > node.alloc_scalar.get(name, 0):
                reasons.append(f"Insufficient {name}")
                free = max(node.alloc_scalar.get(name, 0) - node.req_scalar.get(name, 0), 0)
                details.append(f"{name}: pod needs {want}, {free} free")
        if not reasons:
            return None
        return Rejection(tuple(reasons), "; ".join(details))

    def score(self, pod: PodInfo, node: NodeInfo) -> int:
        """Least allocated: the mean free share of cpu and memory after placing the pod."""
        cpu = node.alloc_cpu
        mem = node.alloc_memory
        s_cpu = (cpu - node.nonzero_cpu - pod.nonzero_cpu) * 100 // cpu if cpu > 0 else 0
        s_mem = (mem - node.nonzero_memory - pod.nonzero_memory) * 100 // mem if mem > 0 else 0
        return (max(s_cpu, 0) + max(s_mem, 0)) // 2
