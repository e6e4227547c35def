"""The scheduler's cache: one ``NodeInfo`` per node with what its bound pods use.

Informer handlers feed it (nodes, and pods that have ``spec.nodeName``). The scheduler
*assumes* a pod onto a node before the asynchronous Binding: its resources and GPU
UUIDs count at once, so the next pod in the loop cannot take them. A failed Binding
*forgets* the assumption; the bound pod arriving through the watch *confirms* it.
Pods being deleted or finished (Succeeded/Failed) hold nothing.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from scheduler.podinfo import (
    GPU_RESOURCE,
    PodInfo,
    gpu_uuids_of,
    is_finished,
    is_terminal,
    pod_info,
    pod_key,
    resource_list,
)
from scheduler.podinfo import quantity_value as _value

Obj = dict[str, Any]

MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class GpuDevice:
    """One GPU a node advertises in ``status.gpus``."""

    uuid: str
    index: int
    model: str
    memory_mib: int
    healthy: bool


def node_gpus(node: Obj) -> tuple[GpuDevice, ...]:
    """The GPUs of ``status.gpus``, ordered by index."""
    out = []
    for i, g in enumerate((node.get("status") or {}).get("gpus") or ()):
        uuid = g.get("uuid")
        if not uuid:
            continue
        health = str(g.get("health", "Healthy"))
        out.append(
            GpuDevice(
                uuid=uuid,
                index=int(g.get("index", i)),
                model=str(g.get("model", "")),
                memory_mib=int(g.get("memoryMiB", 0) or 0),
                healthy=health.lower() in ("healthy", "true", "ok", ""),
            )
        )
    out.sort(key=lambda d: d.index)
    return tuple(out)


def node_ready(node: Obj) -> tuple[bool, str]:
    """(ready, why not): the Ready condition must be True; missing means not reported yet."""
    for cond in (node.get("status") or {}).get("conditions") or ():
        if cond.get("type") == "Ready":
            status = cond.get("status")
            if status == "True":
                return True, ""
            return False, f"Ready={status or 'Unknown'}"
    return False, "no Ready condition"


def node_static_key(node: Obj) -> bytes:
    """The parts of a node that node-static plugins read; a change invalidates their cache."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    raw = orjson.dumps(
        [
            meta.get("labels") or {},
            spec.get("taints") or [],
            bool(spec.get("unschedulable")),
            node_ready(node)[0],
            status.get("gpus") or [],
            status.get("allocatable") or {},
            # VolumeBinding: whether the node's kubelet can make local-path volumes.
            (meta.get("annotations") or {}).get("kubelab.io/storage-dir") or "",
            # NodeCacheLocality: the node-cache volumes whose copy here is complete.
            (meta.get("annotations") or {}).get("kubelab.io/complete-caches") or "",
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    # Kept per node: an exact-size copy, not orjson's ~4 KB buffer (see shared_bytes).
    return bytes(memoryview(raw))


def terminating_ghost(pi: PodInfo) -> PodInfo:
    """What a pod being deleted still holds: its GPUs, nothing else."""
    return dataclasses.replace(
        pi, cpu=0, memory=0, nonzero_cpu=0, nonzero_memory=0, scalar={}, terminating=True
    )


class NodeInfo:
    """A node, its allocatable resources and what its pods (bound or assumed) request."""

    __slots__ = (
        "name",
        "node",
        "labels",
        "taints",
        "unschedulable",
        "ready",
        "not_ready_reason",
        "alloc_cpu",
        "alloc_memory",
        "alloc_pods",
        "alloc_scalar",
        "alloc_gpus",
        "gpus",
        "static_key",
        "req_cpu",
        "req_memory",
        "req_scalar",
        "req_gpus",
        "nonzero_cpu",
        "nonzero_memory",
        "pod_count",
        "pods",
        "gpus_in_use",
        "gpu_memory_used",
        "nominated",
        "version",
        "tiebreak",
    )

    def __init__(self, node: Obj) -> None:
        self.pods: dict[str, PodInfo] = {}
        self.gpus_in_use: dict[str, str] = {}  # GPU UUID -> key of the pod holding it
        # GPU UUID -> {pod key: bytes} for pods sharing that device by memory.
        self.gpu_memory_used: dict[str, dict[str, int]] = {}
        self.nominated: dict[str, PodInfo] = {}  # preemptors waiting for this node
        self.req_cpu = 0
        self.req_memory = 0
        self.req_scalar: dict[str, int] = {}
        self.req_gpus = 0
        self.nonzero_cpu = 0
        self.nonzero_memory = 0
        self.pod_count = 0
        self.version = 0  # bumped on every change: score caches compare it
        # A per-process random order among equally good nodes, so two schedulers do not
        # both reach for the same node first.
        self.tiebreak = random.random()
        self.set_node(node)

    def set_node(self, node: Obj) -> None:
        """Take the node object's current allocatable, labels, taints and GPUs."""
        meta = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        self.version += 1
        self.node = node
        self.name: str = meta.get("name", "")
        self.labels: dict[str, str] = meta.get("labels") or {}
        self.taints: list[Obj] = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        self.ready, self.not_ready_reason = node_ready(node)
        allocatable = status.get("allocatable") or status.get("capacity") or {}
        alloc = resource_list(allocatable)
        self.alloc_cpu = alloc.cpu
        self.alloc_memory = alloc.memory
        self.alloc_pods = _value(allocatable["pods"]) if "pods" in allocatable else 110
        self.gpus = node_gpus(node)
        scalar = dict(alloc.scalar)
        if GPU_RESOURCE in scalar:
            self.alloc_gpus = scalar.pop(GPU_RESOURCE)
        else:
            # A node that lists GPUs but no nvidia.com/gpu allocatable: its healthy GPUs.
            self.alloc_gpus = sum(1 for g in self.gpus if g.healthy)
        self.alloc_scalar = scalar
        self.static_key = node_static_key(node)

    # -- pods ------------------------------------------------------------------------------

    def add_pod(self, pi: PodInfo) -> None:
        """Count ``pi`` against this node (replacing an older version of it)."""
        if pi.key in self.pods:
            self.remove_pod(pi.key)
        self.version += 1
        self.pods[pi.key] = pi
        self.req_cpu += pi.cpu
        self.req_memory += pi.memory
        self.nonzero_cpu += pi.nonzero_cpu
        self.nonzero_memory += pi.nonzero_memory
        self.req_gpus += pi.gpus
        if not pi.terminating:
            self.pod_count += 1
        for name, v in pi.scalar.items():
            self.req_scalar[name] = self.req_scalar.get(name, 0) + v
        for uuid in pi.gpu_uuids:
            if pi.gpu_memory:
                self.gpu_memory_used.setdefault(uuid, {})[pi.key] = pi.gpu_memory
            else:
                self.gpus_in_use[uuid] = pi.key

    def remove_pod(self, key: str) -> PodInfo | None:
        """Stop counting the pod ``key``; returns what it held, or None if it was not here."""
        pi = self.pods.pop(key, None)
        if pi is None:
            return None
        self.version += 1
        self.req_cpu -= pi.cpu
        self.req_memory -= pi.memory
        self.nonzero_cpu -= pi.nonzero_cpu
        self.nonzero_memory -= pi.nonzero_memory
        self.req_gpus -= pi.gpus
        if not pi.terminating:
            self.pod_count -= 1
        for name, v in pi.scalar.items():
            self.req_scalar[name] = self.req_scalar.get(name, 0) - v
        for uuid in pi.gpu_uuids:
            if self.gpus_in_use.get(uuid) == key:
                del self.gpus_in_use[uuid]
            sharers = self.gpu_memory_used.get(uuid)
            if sharers is not None:
                sharers.pop(key, None)
                if not sharers:
                    del self.gpu_memory_used[uuid]
        return pi

    # -- GPUs ------------------------------------------------------------------------------

    def free_gpu_uuids(self) -> list[str]:
        """Healthy GPUs no pod holds, whole or in part, by index."""
        in_use, shared = self.gpus_in_use, self.gpu_memory_used
        return [
            g.uuid for g in self.gpus if g.healthy and g.uuid not in in_use and g.uuid not in shared
        ]

    def gpu_memory_free(self, uuid: str, memory_mib: int) -> int:
        """Bytes of one device that memory-sharing pods have not claimed yet."""
        used = sum((self.gpu_memory_used.get(uuid) or {}).values())
        return memory_mib * MIB - used

    def free_gpu_count(self) -> int:
        """How many GPUs a new pod could get here: allocatable minus requested, and, when the
        node lists its devices, no more than its free healthy UUIDs."""
        free = self.alloc_gpus - self.req_gpus
        if self.gpus:
            free = min(free, len(self.free_gpu_uuids()))
        return max(free, 0)

    # -- simulation ------------------------------------------------------------------------

    def clone(self) -> NodeInfo:
        """An independent copy for what-if checks (preemption), sharing the node object."""
        c = NodeInfo.__new__(NodeInfo)
        for slot in NodeInfo.__slots__:
            setattr(c, slot, getattr(self, slot))
        c.pods = dict(self.pods)
        c.gpus_in_use = dict(self.gpus_in_use)
        c.gpu_memory_used = {u: dict(m) for u, m in self.gpu_memory_used.items()}
        c.req_scalar = dict(self.req_scalar)
        c.nominated = dict(self.nominated)
        return c

    def __repr__(self) -> str:
        return (
            f"NodeInfo({self.name!r}, cpu {self.req_cpu}/{self.alloc_cpu}m, "
            f"mem {self.req_memory}/{self.alloc_memory}, pods {self.pod_count}/{self.alloc_pods}, "
            f"gpus {self.req_gpus}/{self.alloc_gpus})"
        )


MAX_CHANGE_LOG = 100_000


class Snapshot:
    """All nodes and the pods counted on them, plus the scheduler's assumptions.

    ``static_generation`` changes whenever a node appears, disappears or changes a field
    node-static plugins read (labels, taints, cordon, readiness, GPUs, allocatable), so
    per-pod-shape filter results can be cached between changes. Each such change is also
    one entry of ``static_log`` (the node's name and its NodeInfo, None once removed), so
    a cache can catch up with the few nodes that changed instead of starting over:
    capacity arriving one node at a time must not cost a pass over every node per node.
    """

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self.node_list: list[NodeInfo] = []
        self.static_generation = 0
        self._pod_node: dict[str, str] = {}  # pod key -> node it is counted on
        self.assumed: dict[str, PodInfo] = {}
        # Bound pods whose node the cache has not seen yet (watch order across informers).
        self._orphans: dict[str, dict[str, PodInfo]] = {}
        self._nominated_node: dict[str, str] = {}  # preemptor key -> nominated node
        # Nodes in the order they changed, for incremental score indexes; ``log_epoch``
        # changes when the log is trimmed (readers then rebuild).
        self.changes: list[NodeInfo] = []
        self.log_epoch = 0
        # One entry per static_generation step; ``static_epoch`` changes when trimmed.
        self.static_log: list[tuple[str, NodeInfo | None]] = []
        self.static_epoch = 0

    def _touch(self, ni: NodeInfo) -> None:
        if len(self.changes) >= MAX_CHANGE_LOG:
            self.changes.clear()
            self.log_epoch += 1
        self.changes.append(ni)

    def _static_change(self, name: str, ni: NodeInfo | None) -> None:
        if len(self.static_log) >= MAX_CHANGE_LOG:
            self.static_log.clear()
            self.static_epoch += 1
        self.static_log.append((name, ni))
        self.static_generation += 1

    def static_since(
        self, generation: int, pos: int, epoch: int
    ) -> list[tuple[str, NodeInfo | None]] | None:
        """The static changes after a reader's (``generation``, log ``pos``, ``epoch``);
        None when the log cannot tell (trimmed, or the generation moved without it):
        the reader then rebuilds."""
        log = self.static_log
        if epoch != self.static_epoch or pos > len(log):
            return None
        if self.static_generation - generation != len(log) - pos:
            return None
        return log[pos:]

    # -- nodes -----------------------------------------------------------------------------

    def add_node(self, node: Obj) -> NodeInfo:
        """Add or update a node; returns its NodeInfo."""
        name = (node.get("metadata") or {}).get("name", "")
        ni = self.nodes.get(name)
        if ni is not None:
            self.update_node(node)
            return ni
        ni = NodeInfo(node)
        self.nodes[name] = ni
        self.node_list.append(ni)
        for pi in self._orphans.pop(name, {}).values():
            ni.add_pod(pi)
        self._static_change(name, ni)
        return ni

    def update_node(self, node: Obj) -> bool:
        """Refresh a node; True when something scheduling-relevant changed."""
        name = (node.get("metadata") or {}).get("name", "")
        ni = self.nodes.get(name)
        if ni is None:
            self.add_node(node)
            return True
        old_key = ni.static_key
        ni.set_node(node)
        self._touch(ni)
        if ni.static_key != old_key:
            self._static_change(name, ni)
            return True
        return False

    def remove_node(self, name: str) -> None:
        """Forget a node. Pods still bound to it wait as orphans in case it comes back."""
        ni = self.nodes.pop(name, None)
        if ni is None:
            return
        self.node_list = [n for n in self.node_list if n.name != name]
        if ni.pods:
            self._orphans[name] = dict(ni.pods)
        ni.version += 1  # its entries in score indexes are stale now
        self._static_change(name, None)

    # -- pods ------------------------------------------------------------------------------

    def _count(self, pi: PodInfo) -> None:
        self._pod_node[pi.key] = pi.node_name
        ni = self.nodes.get(pi.node_name)
        if ni is not None:
            ni.add_pod(pi)
            self._touch(ni)
        else:
            self._orphans.setdefault(pi.node_name, {})[pi.key] = pi

    def _uncount(self, key: str) -> PodInfo | None:
        node_name = self._pod_node.pop(key, None)
        if node_name is None:
            return None
        ni = self.nodes.get(node_name)
        if ni is not None:
            self._touch(ni)
            return ni.remove_pod(key)
        orphans = self._orphans.get(node_name)
        if orphans is not None:
            pi = orphans.pop(key, None)
            if not orphans:
                del self._orphans[node_name]
            return pi
        return None

    def set_pod(self, pod: Obj) -> bool:
        """Take the current version of a pod from the watch (add or update).

        Returns True when the pod released resources (it finished, or began deleting),
        which may make a waiting pod schedulable.
        """
        key = pod_key(pod)
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        if not node_name:
            # Unbound: an assumption stays until the Binding answers.
            return False
        self.clear_nomination(key)
        if is_terminal(pod):
            self.assumed.pop(key, None)
            old = self._uncount(key)
            if not is_finished(pod) and gpu_uuids_of(pod):
                # Deleting but maybe still running (also when first seen so, after a
                # restart): keep its GPUs, free the rest.
                self._count(terminating_ghost(pod_info(pod)))
                return old is not None and not old.terminating
            return old is not None
        self.assumed.pop(key, None)  # the bound pod confirms (or overrides) the assumption
        self._uncount(key)
        pi = pod_info(pod)
        self._count(pi)
        return False

    def delete_pod(self, pod: Obj) -> bool:
        """A pod disappeared; True when it held resources here."""
        key = pod_key(pod)
        self.assumed.pop(key, None)
        self.clear_nomination(key)
        return self._uncount(key) is not None

    def revision(self) -> tuple[int, int, int]:
        """Changes whenever any node, or what is counted on one, does. Node versions only
        grow, so their sum names the state even when a NodeInfo is changed directly."""
        return (self.static_generation, len(self.node_list), sum(n.version for n in self.node_list))

    def nominations(self) -> int:
        """How many preemptors wait for a nominated node."""
        return len(self._nominated_node)

    def is_counted(self, key: str) -> bool:
        """Whether the pod ``key`` is counted on some node (bound or assumed)."""
        return key in self._pod_node

    # -- assume / forget -------------------------------------------------------------------

    def assume(self, pi: PodInfo, node_name: str, gpu_uuids: Iterable[str] = ()) -> PodInfo:
        """Count ``pi`` on ``node_name`` (with ``gpu_uuids``) before its Binding is sent."""
        assumed = dataclasses.replace(pi, node_name=node_name, gpu_uuids=tuple(gpu_uuids))
        self.clear_nomination(pi.key)
        self._uncount(pi.key)
        self._count(assumed)
        self.assumed[pi.key] = assumed
        return assumed

    def forget(self, key: str) -> bool:
        """Undo ``assume`` after a failed Binding; a no-op if the watch already confirmed it."""
        if self.assumed.pop(key, None) is None:
            return False
        self._uncount(key)
        return True

    # -- nominations (preemption) ----------------------------------------------------------

    def nominate(self, pi: PodInfo, node_name: str) -> None:
        """Hold room on ``node_name`` for a preemptor while its victims terminate."""
        self.clear_nomination(pi.key)
        ni = self.nodes.get(node_name)
        if ni is None:
            return
        ni.nominated[pi.key] = pi
        ni.version += 1
        self._touch(ni)
        self._nominated_node[pi.key] = node_name

    def clear_nomination(self, key: str) -> None:
        node_name = self._nominated_node.pop(key, None)
        if node_name is not None:
            ni = self.nodes.get(node_name)
            if ni is not None:
                ni.nominated.pop(key, None)
                ni.version += 1
                self._touch(ni)

    def nominated_node(self, key: str) -> str | None:
        return self._nominated_node.get(key)

    # -- queries ---------------------------------------------------------------------------

    def gpu_holders(self) -> dict[tuple[str, str], str]:
        """(node, GPU UUID) -> pod key, over all counted pods (for checks and debugging)."""
        return {
            (ni.name, uuid): key for ni in self.node_list for uuid, key in ni.gpus_in_use.items()
        }

    def __len__(self) -> int:
        return len(self.nodes)
