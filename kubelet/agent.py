"""One node's kubelet: registration and heartbeat (NodeAgent) plus its pods (PodManager).

A process runs one ``NodeKubelet`` per node it serves: one normally, N with ``--hollow N``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from api.gpus import GPU_MEMORY_RESOURCE
from api.quantity import bytes_value
from client import AsyncClient
from client.events import NORMAL, WARNING
from kubelet.containers import gpu_uuids
from kubelet.context import KubeletConfig, NodeContext
from kubelet.gpu import GpuDevice
from kubelet.gpu_health import GpuHealth, gate_unclean, leftovers
from kubelet.gpu_monitor import GpuMonitor, Sharer
from kubelet.local_volumes import LocalVolumeManager
from kubelet.node import NodeAgent, NodeFacts
from kubelet.node_caches import NodeCacheReporter
from kubelet.ownership import fetch_cluster_uid
from kubelet.podnet_routes import PodRoutes
from kubelet.pods import PodManager
from kubelet.runtime.base import ContainerRuntime
from kubelet.status import PodFailure
from kubelet.usage_reporter import UsageReporter
from kubelet.worker import PodWorker

log = logging.getLogger(__name__)

# How long a GPU may stay held by a leftover process before the kubelet says so again.
LEFTOVER_TIMEOUT = 120.0


class NodeKubelet:
    """Everything one node runs."""

    def __init__(
        self,
        config: KubeletConfig,
        client: AsyncClient,
        runtime: ContainerRuntime,
        facts: NodeFacts,
        gpus: Callable[[], list[GpuDevice]],
    ) -> None:
        self.config = config
        self.ctx = NodeContext.create(config, client, runtime)
        self.gpu_health = GpuHealth()
        self._discover_gpus = gpus
        self._unclean: dict[str, float] = {}  # GPU UUID -> when the gate closed on it
        self._loop: asyncio.AbstractEventLoop | None = None
        self.node = NodeAgent(
            client,
            facts,
            runtime,
            self._gpus,
            lease_duration=config.lease_duration,
            lease_renew=config.lease_renew,
            status_report_period=config.status_report_period,
        )
        self.pods = PodManager(self.ctx)
        self.usage = UsageReporter(
            client,
            config.node_name,
            lambda: self.pods.workers.values(),
            simulated=runtime.name == "fake",
            node_from_host=not facts.hollow and runtime.name != "fake",
            period=config.metrics_report_period,
            # Real GPUs are read afresh at each report (usage, not inventory); simulated
            # ones, and none, are the inventory's: no NVML call per report there.
            gpus=self._discover_gpus if config.nvml_gpus else lambda: list(self.node.gpus),
        )
        self.gpu_monitor: GpuMonitor | None = None
        if config.nvml_gpus:
            self.gpu_monitor = GpuMonitor(
                self.gpu_health,
                self.ctx.recorder,
                self._node_ref,
                lambda: self.node.update_status(force=True),
                self._pods_holding,
                recheck_period=config.gpu_recheck_period,
                health_command=config.gpu_health_command,
                sharers=self._gpu_sharers,
                kill=self.ctx.runtime.kill,
                fail_pod=self._fail_pod,
            )
        self._tasks: list[asyncio.Task[Any]] = []
        self.routes: PodRoutes | None = None
        # Only a node that announces a storage dir gets local-path volumes (not hollow ones).
        self.local_volumes = (
            LocalVolumeManager(
                client,
                config.node_name,
                config.storage_dir,
                self.ctx.recorder,
                config.enforce_volume_capacity,
            )
            if facts.storage_dir
            else None
        )
        self.node_caches = (
            NodeCacheReporter(client, config.node_name, config.storage_dir)
            if facts.storage_dir
            else None
        )

    @property
    def name(self) -> str:
        return self.config.node_name

    def worker_for(self, namespace: str, name: str) -> PodWorker | None:
        return self.pods.worker_for(namespace, name)

    def _node_ref(self) -> dict[str, Any]:
        meta = {"name": self.name, "uid": self.node.node_uid or self.name}
        return {"apiVersion": "v1", "kind": "Node", "metadata": meta}

    def _pods_holding(self, uuid: str) -> list[dict[str, Any]]:
        return [w.pod for w in self.pods.workers.values() if uuid in gpu_uuids(w.pod)]

    def _fail_pod(self, pod: dict[str, Any], failure: PodFailure) -> None:
        """Fail a pod this node runs (its worker stops it and reports Failed)."""
        uid = (pod.get("metadata") or {}).get("uid")
        for w in self.pods.workers.values():
            if w.uid == uid and w.failure is None:
                log.warning("pod %s failed: %s", w.key, failure.message)
                w.failure = failure
                w.wake()

    def _gpu_sharers(self) -> dict[str, Sharer]:
        """The running containers that share a GPU by memory, by container id."""
        out: dict[str, Sharer] = {}
        for w in self.pods.workers.values():
            for c in w.app_containers():
                limit = ((c.get("resources") or {}).get("limits") or {}).get(GPU_MEMORY_RESOURCE)
                cid = w.container_id(c["name"]) if limit is not None else None
                if cid and limit is not None:
                    out[cid] = Sharer(w.pod, c["name"], bytes_value(limit))
        return out

    def _held_gpus(self) -> set[str]:
        """The GPUs of this node's pods that have not finished (read from the inventory's
        thread: the workers dict may change meanwhile, so copy it and retry)."""
        for _ in range(5):
            try:
                workers = list(self.pods.workers.values())
                break
            except RuntimeError:
                continue
        else:
            return set()
        held: set[str] = set()
        for w in workers:
            if (w.pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                held.update(gpu_uuids(w.pod))
        return held

    def _gpus(self) -> list[GpuDevice]:
        """The inventory as the Node reports it: out-of-service GPUs and the clean-GPU gate
        applied (runs on a thread: NVML calls block)."""
        devices = gate_unclean(self.gpu_health.apply(self._discover_gpus()), self._held_gpus())
        now = time.monotonic()
        for d in devices:
            gated = d.unhealthy_reason.startswith("LeftoverProcess")
            since = self._unclean.get(d.uuid)
            if gated and since is None:
                self._unclean[d.uuid] = now
                self._note(
                    WARNING,
                    "GPUNotClean",
                    f"GPU {d.uuid} is held by {leftovers(d)} with no pod of this node on it; "
                    "it is not assigned until they exit",
                )
            elif gated and since is not None and now - since > LEFTOVER_TIMEOUT:
                self._unclean[d.uuid] = float("inf")  # said once per episode
                self._note(
                    WARNING,
                    "GPULeftoverProcess",
                    f"GPU {d.uuid} still held by {leftovers(d)} after "
                    f"{LEFTOVER_TIMEOUT:.0f} s: end that process to return the GPU",
                )
            elif not gated and since is not None:
                del self._unclean[d.uuid]
                self._note(NORMAL, "GPUClean", f"GPU {d.uuid} is idle again")
        return devices

    def _note(self, kind: str, reason: str, message: str) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(
                self.ctx.recorder.record, self._node_ref(), kind, reason, message
            )

    async def start(self) -> None:
        """Register the node, then start heartbeats and pod workers (returns at once)."""
        self.ctx.recorder.start()
        self._loop = asyncio.get_running_loop()  # _gpus runs on a thread and notes from it
        registered = await self.node.register()
        if self.ctx.podnet is not None:
            self.ctx.podnet.learn(registered)
        if not self.config.cluster_uid:
            # Before any container is listed: ownership rests on it (kubelet/ownership.py).
            self.config.cluster_uid = await fetch_cluster_uid(self.ctx.client)
        if self.config.pod_routes and self.ctx.podnet is not None:
            # Before any pod runs: the safety routes, and who masquerades the bridge.
            self.routes = PodRoutes(
                self.ctx.client,
                self.name,
                self.config.cluster_uid,
                self.config.cluster_cidr,
                self.config.service_cidr,
                peers=self.config.pod_routes_peers,
            )
            await self.routes.start()
            self.ctx.podnet.masquerade = bool(self.routes.disabled)
        self._tasks = [
            asyncio.create_task(self.node.run(), name=f"heartbeat-{self.name}"),
            asyncio.create_task(self.pods.run(), name=f"pods-{self.name}"),
        ]
        if self.config.metrics_report_period > 0:
            self._tasks.append(asyncio.create_task(self.usage.run(), name=f"usage-{self.name}"))
        if self.local_volumes is not None:
            self._tasks.append(
                asyncio.create_task(self.local_volumes.run(), name=f"volumes-{self.name}")
            )
        if self.node_caches is not None:
            self._tasks.append(
                asyncio.create_task(self.node_caches.run(), name=f"node-caches-{self.name}")
            )
        if self.routes is not None and self.ctx.podnet is not None:
            self._tasks.append(
                asyncio.create_task(self.routes.run(self.ctx.podnet), name=f"routes-{self.name}")
            )
        if self.gpu_monitor is not None:
            self._tasks.append(
                asyncio.create_task(self.gpu_monitor.run(), name=f"gpu-health-{self.name}")
            )

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Until the pod informer synced and orphans were cleaned up."""
        await asyncio.wait_for(self.pods.ready.wait(), timeout)

    async def stop(self) -> None:
        """Stop heartbeats and workers; containers keep running for the next kubelet."""
        for t in self._tasks:
            t.cancel()
        await self.pods.stop()
        if self.ctx.podnet is not None:
            # Only an unused bridge goes: running pods keep theirs for the next kubelet.
            await self.ctx.podnet.remove(self.ctx.runtime, self.config.cluster_uid)
        if self.routes is not None:
            await self.routes.stop()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await self.ctx.recorder.stop(flush_timeout=1.0)
