"""What the scheduler needs to know about one pod, computed once per pod version.

Resource requests are summed here so that the hot filter loop only compares integers:
cpu in millicores, memory in bytes, extended resources (``nvidia.com/gpu``) as whole
units. The effective request follows Kubernetes: the larger of the sum over containers
and the largest init container, plus ``spec.overhead``; a container that only sets
limits requests its limits (the API server's defaulting does the same).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson

from api.gpus import GPU_MEMORY_RESOURCE, GPU_RESOURCE
from api.quantity import bytes_value, cpu_millis

GPU_UUIDS_ANNOTATION = "kubelab.io/gpu-uuids"
REASONS_ANNOTATION = "kubelab.io/scheduling-reasons"

# kube-scheduler scores a pod without requests as if it asked for this much, so that
# empty pods still spread (pkg/scheduler/util/pod_resources.go).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

# The two built-in PriorityClasses, used when spec.priority was not filled in.
_BUILTIN_PRIORITY = {
    "system-node-critical": 2_000_001_000,
    "system-cluster-critical": 2_000_000_000,
}

_IGNORED_RESOURCES = frozenset({"cpu", "memory", "pods"})

Obj = dict[str, Any]


@lru_cache(maxsize=4096)
def _cpu(q: str | int | float) -> int:
    return cpu_millis(q)


@lru_cache(maxsize=4096)
def _count(q: str | int | float) -> int:
    return bytes_value(q)


def quantity_millis(q: Any) -> int:
    """A cpu quantity in millicores (cached: the same strings recur on every pod)."""
    return _cpu(q) if isinstance(q, str | int | float) else cpu_millis(q)


def quantity_value(q: Any) -> int:
    """A memory or count quantity as a whole number, rounded up (cached)."""
    return _count(q) if isinstance(q, str | int | float) else bytes_value(q)


@dataclass(slots=True)
class Requests:
    """A pod's (or node's) resource amounts as integers."""

    cpu: int = 0  # millicores
    memory: int = 0  # bytes
    scalar: dict[str, int] = field(default_factory=dict)  # extended resources, whole units

    def add(self, other: Requests) -> None:
        self.cpu += other.cpu
        self.memory += other.memory
        for name, value in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + value

    def max_with(self, other: Requests) -> None:
        self.cpu = max(self.cpu, other.cpu)
        self.memory = max(self.memory, other.memory)
        for name, value in other.scalar.items():
            self.scalar[name] = max(self.scalar.get(name, 0), value)


def resource_list(values: dict[str, Any] | None) -> Requests:
    """Convert a ResourceList (``{"cpu": "500m", "memory": "1Gi", ...}``) to integers."""
    out = Requests()
    if not values:
        return out
    for name, q in values.items():
        if name == "cpu":
            out.cpu = quantity_millis(q)
        elif name == "memory":
            out.memory = quantity_value(q)
        elif name not in _IGNORED_RESOURCES:
            out.scalar[name] = quantity_value(q)
    return out


def _container_requests(container: Obj) -> Requests:
    resources = container.get("resources") or {}
    requests = dict(resources.get("limits") or {})
    requests.update(resources.get("requests") or {})
    return resource_list(requests)


def pod_requests(pod: Obj) -> Requests:
    """The effective resource request of a pod, as the scheduler accounts it."""
    spec = pod.get("spec") or {}
    total = Requests()
    for c in spec.get("containers") or ():
        total.add(_container_requests(c))
    for c in spec.get("initContainers") or ():
        total.max_with(_container_requests(c))
    overhead = spec.get("overhead")
    if overhead:
        total.add(resource_list(overhead))
    return total


def pod_priority(pod: Obj) -> int:
    """``spec.priority``, falling back to the built-in priority classes, else 0."""
    spec = pod.get("spec") or {}
    prio = spec.get("priority")
    if isinstance(prio, int):
        return prio
    return _BUILTIN_PRIORITY.get(spec.get("priorityClassName") or "", 0)


def pod_key(pod: Obj) -> str:
    """``namespace/name`` — the key informers use for namespaced objects."""
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


def is_finished(pod: Obj) -> bool:
    """Phase Succeeded or Failed."""
    phase = (pod.get("status") or {}).get("phase")
    return phase == "Succeeded" or phase == "Failed"


def is_terminal(pod: Obj) -> bool:
    """A pod that no longer holds resources: finished, or being deleted."""
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return True
    phase = (pod.get("status") or {}).get("phase")
    return phase == "Succeeded" or phase == "Failed"


def gpu_uuids_of(pod: Obj) -> tuple[str, ...]:
    """The GPU UUIDs a bound pod holds, from its ``kubelab.io/gpu-uuids`` annotation."""
    ann = (pod.get("metadata") or {}).get("annotations") or {}
    raw = ann.get(GPU_UUIDS_ANNOTATION) or ""
    return tuple(u.strip() for u in raw.split(",") if u.strip())


# Shared empty values for PodInfo fields (never modified: PodInfo is read-only).
_NO_TOLERATIONS: list[Obj] = []
_NO_SELECTOR: dict[str, str] = {}
_NO_SCALAR: dict[str, int] = {}

_SHARED_BYTES: dict[bytes, bytes] = {}
_SHARED_BYTES_LIMIT = 4096


def shared_bytes(raw: bytes) -> bytes:
    """One exact-size copy of ``raw`` per distinct value.

    A bytes object from ``orjson.dumps`` keeps the encoder's ~4 KB buffer behind it
    however short the JSON is; kept per pod (signatures), that was ~4 KB of RSS per
    bound pod. The copy is exact, and pods of one template share it."""
    got = _SHARED_BYTES.get(raw)
    if got is None:
        if len(_SHARED_BYTES) >= _SHARED_BYTES_LIMIT:
            _SHARED_BYTES.clear()  # only less sharing, never a wrong answer
        got = bytes(memoryview(raw))
        _SHARED_BYTES[got] = got  # keyed by the copy too: ``raw`` is the 4 KB one
    return got


@dataclass(slots=True)
class PodInfo:
    """A pod plus everything filters and scores read, precomputed."""

    pod: Obj
    key: str
    uid: str
    priority: int
    created: str
    node_name: str
    cpu: int
    memory: int
    scalar: dict[str, int]  # extended resources other than GPUs
    gpus: int
    nonzero_cpu: int
    nonzero_memory: int
    gpu_uuids: tuple[str, ...]
    tolerations: list[Obj]
    node_selector: dict[str, str]
    required_affinity: Obj | None  # nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution
    signature: bytes  # identifies the pod's node-static constraints, for caching
    # Being deleted but still running: holds only its GPU UUIDs (the devices are busy
    # until the container stops, and the apiserver refuses them until the pod is gone).
    terminating: bool = False
    # Where its PersistentVolumeClaims let it run (plugins.volume_binding.VolumeConstraint),
    # resolved from the claims each cycle; part of ``signature`` when set.
    volumes: tuple[Any, ...] = ()
    # Bytes of one GPU's memory asked for with kubelab.io/gpu-memory (a shared device).
    gpu_memory: int = 0

    @property
    def namespace(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]


def pod_info(pod: Obj) -> PodInfo:
    """Build the scheduler's view of ``pod``."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    req = pod_requests(pod)
    scalar = dict(req.scalar)
    gpus = scalar.pop(GPU_RESOURCE, 0)
    # Read-only views of the (immutable) cached pod, not copies: the snapshot holds one
    # PodInfo per bound pod, and pods of one template share these lists and maps.
    tolerations = spec.get("tolerations") or _NO_TOLERATIONS
    node_selector = spec.get("nodeSelector") or _NO_SELECTOR
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    # Everything node-static plugins read; pods from one template share it, so their
    # static filter results are computed once.
    signature = shared_bytes(
        orjson.dumps(
            [tolerations, node_selector, affinity, gpus > 0 or GPU_MEMORY_RESOURCE in scalar],
            option=orjson.OPT_SORT_KEYS,
        )
    )
    return PodInfo(
        pod=pod,
        key=pod_key(pod),
        uid=meta.get("uid") or "",
        priority=pod_priority(pod),
        created=meta.get("creationTimestamp") or "",
        node_name=spec.get("nodeName") or "",
        cpu=req.cpu,
        memory=req.memory,
        scalar=scalar or _NO_SCALAR,
        gpus=gpus,
        nonzero_cpu=req.cpu or DEFAULT_MILLI_CPU_REQUEST,
        nonzero_memory=req.memory or DEFAULT_MEMORY_REQUEST,
        gpu_uuids=gpu_uuids_of(pod),
        tolerations=tolerations,
        node_selector=node_selector,
        required_affinity=affinity,
        signature=signature,
        gpu_memory=scalar.get(GPU_MEMORY_RESOURCE, 0),
    )
