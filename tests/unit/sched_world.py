"""Node and pod dicts for scheduler unit tests, shaped as the API serves them."""

from __future__ import annotations

import itertools
from typing import Any

from scheduler.podinfo import PodInfo, pod_info
from scheduler.snapshot import NodeInfo, Snapshot

Obj = dict[str, Any]
_seq = itertools.count()


def node(
    name: str,
    cpu: str = "4",
    memory: str = "32Gi",
    pods: int = 110,
    gpus: int = 0,
    labels: dict[str, str] | None = None,
    taints: list[Obj] | None = None,
    unschedulable: bool = False,
    ready: str | None = "True",
    unhealthy: tuple[int, ...] = (),
    model: str = "H100-80GB",
    extra: dict[str, str] | None = None,
) -> Obj:
    """A Node with allocatable resources and, with ``gpus``, simulated ``status.gpus``."""
    alloc: dict[str, str] = {"cpu": cpu, "memory": memory, "pods": str(pods)}
    if gpus:
        alloc["nvidia.com/gpu"] = str(gpus - len(unhealthy))
    alloc.update(extra or {})
    status: Obj = {"allocatable": alloc, "capacity": dict(alloc)}
    if ready is not None:
        status["conditions"] = [{"type": "Ready", "status": ready}]
    if gpus:
        status["gpus"] = [
            {
                "index": i,
                "uuid": f"GPU-{name}-{i}",
                "model": model,
                "memoryMiB": 81920,
                "health": "Unhealthy" if i in unhealthy else "Healthy",
            }
            for i in range(gpus)
        ]
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": status,
    }


def pod(
    name: str,
    cpu: str | None = "100m",
    memory: str | None = "500Mi",
    gpus: int = 0,
    priority: int | None = None,
    node_name: str = "",
    gpu_uuids: str = "",
    tolerations: list[Obj] | None = None,
    node_selector: dict[str, str] | None = None,
    affinity: Obj | None = None,
    namespace: str = "default",
    phase: str = "Pending",
    deleting: bool = False,
    extra: dict[str, str] | None = None,
) -> Obj:
    """A Pod with one container requesting ``cpu``/``memory`` (and GPUs as limits)."""
    requests: dict[str, str] = {}
    if cpu:
        requests["cpu"] = cpu
    if memory:
        requests["memory"] = memory
    requests.update(extra or {})
    resources: Obj = {"requests": requests}
    if gpus:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    spec: Obj = {"containers": [{"name": "c", "image": "busybox", "resources": resources}]}
    if priority is not None:
        spec["priority"] = priority
    if node_name:
        spec["nodeName"] = node_name
    if tolerations:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    if affinity:
        spec["affinity"] = affinity
    meta: Obj = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "creationTimestamp": f"2024-01-01T00:00:{next(_seq) % 60:02d}Z",
    }
    if gpu_uuids:
        meta["annotations"] = {"kubelab.io/gpu-uuids": gpu_uuids}
    if deleting:
        meta["deletionTimestamp"] = "2024-01-01T00:01:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": phase},
    }


def info(p: Obj) -> PodInfo:
    return pod_info(p)


def node_info(n: Obj, *pods: Obj) -> NodeInfo:
    """A NodeInfo with ``pods`` counted on it."""
    ni = NodeInfo(n)
    for p in pods:
        ni.add_pod(pod_info(p))
    return ni


def snapshot(nodes: list[Obj], pods: list[Obj] = ()) -> Snapshot:  # type: ignore[assignment]
    snap = Snapshot()
    for n in nodes:
        snap.add_node(n)
    for p in pods:
        snap.set_pod(p)
    return snap
