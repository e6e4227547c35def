"""The controller manager: shared informers, one work queue and N workers per controller."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable

from client import AsyncClient, InformerFactory
from client.events import EventRecorder

from .base import Context, Controller, Options
from .clusterrole_aggregation import ClusterRoleAggregationController
from .cronjob import CronJobController
from .csrsigning import CSRSigningController
from .daemonset import DaemonSetController
from .deployment import DeploymentController
from .disruption import DisruptionController
from .endpoints import EndpointsController
from .garbagecollector import GarbageCollector, NamespaceController
from .hpa import HorizontalPodAutoscalerController
from .ingress_status import IngressStatusController
from .job import JobController
from .loadbalancer import LoadBalancerController
from .nodeipam import NodeIpamController
from .nodelifecycle import NodeLifecycleController
from .persistentvolume import PersistentVolumeController
from .podgc import PodGCController
from .replicaset import ReplicaSetController
from .replicationcontroller import ReplicationControllerController
from .resourcequota import ResourceQuotaController
from .rootca import RootCAPublisher
from .scaletozero import ScaleToZeroController
from .serviceaccounts import ServiceAccountsController
from .statefulset import StatefulSetController

log = logging.getLogger(__name__)
COMPONENT = "kubelab-controller-manager"

CONTROLLERS: dict[str, type[Controller]] = {
    "replicaset": ReplicaSetController,
    "replicationcontroller": ReplicationControllerController,
    "deployment": DeploymentController,
    "statefulset": StatefulSetController,
    "daemonset": DaemonSetController,
    "job": JobController,
    "cronjob": CronJobController,
    "endpoints": EndpointsController,
    "nodelifecycle": NodeLifecycleController,
    "garbagecollector": GarbageCollector,
    "namespace": NamespaceController,
    "podgc": PodGCController,
    "disruption": DisruptionController,
    "loadbalancer": LoadBalancerController,
    "ingress-status": IngressStatusController,
    "csrsigning": CSRSigningController,
    "clusterrole-aggregation": ClusterRoleAggregationController,
    "serviceaccount": ServiceAccountsController,
    "root-ca-cert-publisher": RootCAPublisher,
    "nodeipam": NodeIpamController,
    "persistentvolume": PersistentVolumeController,
    "resourcequota": ResourceQuotaController,
    "horizontalpodautoscaling": HorizontalPodAutoscalerController,
    "scaletozero": ScaleToZeroController,
}


def select(names: tuple[str, ...]) -> list[str]:
    """Controller names from a kube-style list (``*``, ``name``, ``-name``)."""
    wanted = list(names) or ["*"]
    chosen: list[str] = []
    for n in CONTROLLERS:
        if f"-{n}" in wanted:
            continue
        if "*" in wanted or n in wanted:
            chosen.append(n)
    unknown = [w for w in wanted if w.lstrip("-") not in CONTROLLERS and w != "*"]
    if unknown:
        raise ValueError(f"unknown controllers {unknown}; known: {', '.join(CONTROLLERS)}")
    return chosen


class ControllerManager:
    """Builds the controllers on one shared informer factory and runs them."""

    def __init__(
        self, client: AsyncClient, options: Options, clock: Callable[[], float] = time.time
    ) -> None:
        self.client = client
        self.options = options
        self.informers = InformerFactory(client)
        instance = f"{socket.gethostname()}-{os.getpid()}"
        self.recorder = EventRecorder(client, COMPONENT, instance, clock=clock, queue_size=5000)
        self.ctx = Context(client, self.informers, self.recorder, options, clock)
        self.controllers = [CONTROLLERS[n](self.ctx) for n in select(options.controllers)]
        for c in self.controllers:
            c.setup()

    async def run(self, stop: asyncio.Event) -> None:
        """Sync the informers, run every controller until ``stop`` is set."""
        self.informers.start()
        recorder = asyncio.create_task(self.recorder.run(), name="events")
        try:
            await self.informers.wait_synced()
            log.info("caches synced; starting %s", ", ".join(c.name for c in self.controllers))
            tasks = [
                asyncio.create_task(c.run(self.options.workers), name=c.name)
                for c in self.controllers
            ]
            await stop.wait()
        finally:
            for c in self.controllers:
                c.queue.shutdown()
            for t in locals().get("tasks", []):
                t.cancel()
            recorder.cancel()
            await self.informers.stop()
