"""One node's kubelet: registration and heartbeat (NodeAgent) plus its pods (PodManager).

A process runs one ``NodeKubelet`` per node it serves: one normally, N with ``--hollow N``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from client import AsyncClient
from kubelet.containers import gpu_uuids
from kubelet.context import KubeletConfig, NodeContext
from kubelet.gpu import GpuDevice
from kubelet.gpu_health import GpuHealth
from kubelet.gpu_monitor import GpuMonitor
from kubelet.node import NodeAgent, NodeFacts
from kubelet.ownership import fetch_cluster_uid
from kubelet.pods import PodManager
from kubelet.runtime.base import ContainerRuntime
from kubelet.worker import PodWorker

log = logging.getLogger(__name__)


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
        self.node = NodeAgent(
            client,
            facts,
            runtime,
            lambda: self.gpu_health.apply(gpus()),
            lease_duration=config.lease_duration,
            lease_renew=config.lease_renew,
            status_report_period=config.status_report_period,
        )
        self.pods = PodManager(self.ctx)
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
            )
        self._tasks: list[asyncio.Task[Any]] = []

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

    async def start(self) -> None:
        """Register the node, then start heartbeats and pod workers (returns at once)."""
        self.ctx.recorder.start()
        await self.node.register()
        if not self.config.cluster_uid:
            # Before any container is listed: ownership rests on it (kubelet/ownership.py).
            self.config.cluster_uid = await fetch_cluster_uid(self.ctx.client)
        self._tasks = [
            asyncio.create_task(self.node.run(), name=f"heartbeat-{self.name}"),
            asyncio.create_task(self.pods.run(), name=f"pods-{self.name}"),
        ]
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
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        await self.ctx.recorder.stop(flush_timeout=1.0)
