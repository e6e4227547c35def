"""Reports what this node and its pods use to the apiserver's metrics API, every
``--metrics-report-period`` seconds (15: metrics-server scrapes every 15 to 60), as one
POST to ``metrics.k8s.io/v1beta1/nodes/NAME/usage`` (apiserver/metrics_api.py).

The readings come from kubelet/usage.py: cgroup counters of the running containers (found
from their main process), the machine's /proc for the node, or the simulated usage of the
fake runtime's pods. A container is reported from its second reading on, since CPU is a
rate over the window between two readings. GPUs are read at the same moment
(kubelet/gpu_usage.py): each GPU's utilisation, memory and power with the pod holding it,
and each GPU pod's use of its GPUs, which the apiserver serves as custom metrics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from api.quantity import format_quantity
from client import AsyncClient
from kubelet.containers import gpu_uuids
from kubelet.gpu import GpuDevice
from kubelet.gpu_processes import container_of_pid
from kubelet.gpu_usage import (
    GpuReading,
    GpuReadings,
    Holder,
    PodGpuUsage,
    gpu_readings,
    parse_gpu_load,
)
from kubelet.resource_metrics import ContainerReading, Readings
from kubelet.runtime.base import ContainerInfo
from kubelet.timeutil import parse_time
from kubelet.usage import (
    SIMULATED_USAGE,
    Sample,
    Usage,
    UsageTracker,
    node_cpu_ns,
    node_memory_working_set,
    read_sample,
    simulated_usage,
)

log = logging.getLogger(__name__)

NODE_KEY = "\0node"


class PodView(Protocol):
    """What the reporter needs of a pod worker."""

    pod: dict[str, Any]
    tracks: dict[str, Any]  # container name -> its track (``current``: a ContainerInfo)

    def app_containers(self) -> list[dict[str, Any]]: ...


def cpu_text(nanocores: int) -> str:
    return f"{max(nanocores, 0)}n"


def memory_text(n: int) -> str:
    return format_quantity(max(n, 0) // 1024 * 1024, binary=True)


def gpu_container(containers: list[dict[str, Any]]) -> str:
    """The container a pod's GPUs are for: the first that asks for any, else the first."""
    for c in containers:
        limits = (c.get("resources") or {}).get("limits") or {}
        if any(k.startswith("nvidia.com/") or k.startswith("kubelab.io/gpu") for k in limits):
            return str(c.get("name") or "")
    return str(containers[0].get("name") or "") if containers else ""


def gpu_body(g: GpuReading) -> dict[str, Any]:
    """One GPU in the report (what ``kl top gpus`` shows); unreported sensors are left out."""
    out: dict[str, Any] = {
        "index": g.index,
        "uuid": g.uuid,
        "model": g.model,
        "memoryTotal": memory_text(g.memory_total_bytes),
    }
    if g.utilization is not None:
        out["utilization"] = g.utilization
    if g.memory_used_bytes is not None:
        out["memoryUsed"] = memory_text(g.memory_used_bytes)
    if g.power_w is not None:
        out["powerWatts"] = g.power_w
    if g.pod:
        out["pod"] = {"namespace": g.namespace, "name": g.pod, "container": g.container}
    return out


def pod_gpu_body(u: PodGpuUsage) -> dict[str, Any]:
    """A pod's use of its GPUs in the report (served as custom metrics)."""
    out: dict[str, Any] = {"uuids": list(u.uuids)}
    if u.utilization is not None:
        out["utilization"] = u.utilization
    if u.memory_used_bytes is not None:
        out["memoryUsed"] = memory_text(u.memory_used_bytes)
    if u.power_w is not None:
        out["powerWatts"] = u.power_w
    return out


class UsageReporter:
    """One node's usage reports."""

    def __init__(
        self,
        client: AsyncClient,
        node: str,
        pods: Callable[[], Iterable[PodView]],
        *,
        simulated: bool,
        node_from_host: bool,
        period: float = 15.0,
        sample: Callable[[int], Sample | None] = read_sample,
        clock: Callable[[], float] = time.monotonic,
        gpus: Callable[[], list[GpuDevice]] = list,
        owner_of_pid: Callable[[int], str | None] = container_of_pid,
    ) -> None:
        self.client = client
        self.node = node
        self.pods = pods
        self.simulated = simulated  # the fake runtime: usage from pod annotations
        self.node_from_host = node_from_host  # a real box (not one of several hollow nodes)
        self.period = period
        self.sample = sample
        self.clock = clock
        self.gpus = gpus  # the node's devices now (NVML or simulated), read on each collect
        self.owner_of_pid = owner_of_pid
        self.tracker = UsageTracker()
        self.reports = 0
        # The latest readings, for /metrics/resource (kubelet/resource_metrics.py); the
        # simulated containers' CPU seconds add up their modelled rate over each window.
        self.readings: Readings | None = None
        self._simulated_cpu: dict[str, float] = {}
        self._cpu_seconds: dict[str, float] = {}  # real containers' latest, by container id
        self._last_collect: float | None = None

    async def run(self) -> None:
        """Report every period, forever; an API outage is logged and the next one tried."""
        await asyncio.to_thread(self.collect)  # the first readings: rates need a second one
        while True:
            await asyncio.sleep(self.period)
            try:
                await self.report()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - usage is best effort, the pods are not
                log.warning("usage report failed: %s", e)

    async def report(self) -> None:
        body = await asyncio.to_thread(self.collect)
        await self.client.request(
            "POST", f"/apis/metrics.k8s.io/v1beta1/nodes/{self.node}/usage", json=body
        )
        self.reports += 1

    def collect(self) -> dict[str, Any]:
        """The report body: the node's usage and each pod's containers'."""
        now = self.clock()
        wall = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(wall))
        window = 0.0 if self._last_collect is None else now - self._last_collect
        self._last_collect = now
        seen: set[str] = set()
        pods: list[dict[str, Any]] = []
        readings: list[ContainerReading] = []
        total_cpu = total_mem = 0
        workers = list(self.pods())
        gpu = self._gpu_readings(workers)
        for w in workers:
            meta = w.pod.get("metadata") or {}
            if (w.pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            containers = w.app_containers()
            usages: list[tuple[str, Usage]] = []
            for c in containers:
                u = self._container_usage(w, c["name"], len(containers), now, seen)
                if u is not None:
                    usages.append((c["name"], u))
                    readings.append(self._reading(w, c["name"], u, window))
            if not usages or len(usages) != len(containers):
                continue  # metrics-server reports a pod only with all its containers
            total_cpu += sum(u.cpu_nanocores for _, u in usages)
            total_mem += sum(u.memory_bytes for _, u in usages)
            held = gpu.pods.get((meta.get("namespace", "default"), meta.get("name", "")))
            pods.append(
                {
                    **({"gpu": pod_gpu_body(held)} if held is not None else {}),
                    "namespace": meta.get("namespace", "default"),
                    "name": meta.get("name", ""),
                    "labels": meta.get("labels") or {},
                    "timestamp": stamp,
                    "window": f"{self.period:g}s",
                    "containers": [
                        {
                            "name": name,
                            "usage": {
                                "cpu": cpu_text(u.cpu_nanocores),
                                "memory": memory_text(u.memory_bytes),
                            },
                        }
                        for name, u in usages
                    ],
                }
            )
        node_cpu, node_mem = total_cpu, total_mem
        node_cpu_seconds: float | None = sum(r.cpu_seconds for r in readings)
        if self.node_from_host:
            cpu_ns, mem = node_cpu_ns(), node_memory_working_set()
            node_cpu_seconds = None
            if cpu_ns is not None and mem is not None:
                u = self.tracker.observe(NODE_KEY, now, Sample(cpu_ns, mem))
                node_cpu, node_mem = (u.cpu_nanocores, u.memory_bytes) if u else (0, mem)
                node_cpu_seconds = cpu_ns / 1e9
            seen.add(NODE_KEY)
        self.tracker.forget_except(seen)
        self._simulated_cpu = {k: v for k, v in self._simulated_cpu.items() if k in seen}
        self._cpu_seconds = {k: v for k, v in self._cpu_seconds.items() if k in seen}
        self.readings = Readings(
            wall, node_cpu_seconds, node_mem, tuple(readings), gpu.gpus, self.node
        )
        return {
            "timestamp": stamp,
            "window": f"{self.period:g}s",
            "usage": {"cpu": cpu_text(node_cpu), "memory": memory_text(node_mem)},
            "pods": pods,
            **({"gpus": [gpu_body(g) for g in gpu.gpus]} if gpu.gpus else {}),
        }

    def _gpu_readings(self, workers: list[PodView]) -> GpuReadings:
        """The node's GPUs now and what each pod holding some uses of them."""
        devices = self.gpus()
        if not devices:
            return GpuReadings()
        holders = []
        for w in workers:
            uuids = gpu_uuids(w.pod)
            if not uuids or (w.pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            meta = w.pod.get("metadata") or {}
            containers = w.app_containers()
            ids = frozenset(
                t.current.id for t in w.tracks.values() if getattr(t, "current", None) is not None
            )
            holders.append(
                Holder(
                    str(meta.get("namespace") or "default"),
                    str(meta.get("name") or ""),
                    tuple(uuids),
                    gpu_container(containers),
                    ids,
                    parse_gpu_load((meta.get("annotations") or {}).get(SIMULATED_USAGE, "")),
                )
            )
        return gpu_readings(devices, holders, self.owner_of_pid)

    def _container_usage(
        self, w: PodView, name: str, count: int, now: float, seen: set[str]
    ) -> Usage | None:
        track = w.tracks.get(name)
        info: ContainerInfo | None = track.current if track is not None else None
        if info is None or info.state != "running":
            return None
        seen.add(info.id)
        if self.simulated:
            ann = ((w.pod.get("metadata") or {}).get("annotations") or {}).get(SIMULATED_USAGE, "")
            return simulated_usage(ann, count)
        if not info.pid:
            return None
        sample = self.sample(info.pid)
        if sample is None:
            return None
        self._cpu_seconds[info.id] = sample.cpu_ns / 1e9
        return self.tracker.observe(info.id, now, sample)

    def _reading(self, w: PodView, name: str, u: Usage, window: float) -> ContainerReading:
        """A container's cumulative CPU seconds and working set, for /metrics/resource."""
        meta = w.pod.get("metadata") or {}
        track = w.tracks.get(name)
        info = track.current if track is not None else None
        cid = info.id if info is not None else ""
        if self.simulated:
            cpu = self._simulated_cpu.get(cid, 0.0) + u.cpu_nanocores * window / 1e9
            self._simulated_cpu[cid] = cpu
        else:
            cpu = self._cpu_seconds.get(cid, 0.0)
        started = parse_time(info.started_at) if info is not None else None
        return ContainerReading(
            str(meta.get("namespace") or "default"),
            str(meta.get("name") or ""),
            name,
            cpu,
            u.memory_bytes,
            started.timestamp() if started is not None else None,
        )
