"""What every controller shell shares: the context, the worker loop, applying actions."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from client import (
    ApiError,
    AsyncClient,
    InformerFactory,
    QueueShutDown,
    ServerUnreachable,
    WorkQueue,
)
from client.events import EventRecorder

from . import actions as A
from .cache import Index, Overlay
from .cached_pod import cached_pod_transform

log = logging.getLogger(__name__)


@dataclass
class Options:
    """Tunables, set from the command line (see ``controllers.main``)."""

    workers: int = 5
    burst_replicas: int = 500
    create_concurrency: int = 32
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    pod_eviction_timeout: float = 300.0
    job_backoff_base: float = 10.0
    job_backoff_max: float = 360.0
    terminated_pod_gc_threshold: int = 12500
    pod_gc_period: float = 20.0
    pod_gc_orphan_quarantine: float = 40.0
    cluster_cidr: str = "10.42.0.0/16"  # node IPAM: cut into one subnet per node
    node_cidr_mask_size: int = 24
    # CSR signing (kube-controller-manager's flags): "" = $KUBELAB_HOME/pki/ca.{crt,key}.
    cluster_signing_cert_file: str = ""
    cluster_signing_key_file: str = ""
    # HorizontalPodAutoscaler: kube-controller-manager's --horizontal-pod-autoscaler-* flags.
    hpa_sync_period: float = 15.0
    hpa_downscale_stabilization: float = 300.0
    hpa_tolerance: float = 0.1
    hpa_cpu_initialization_period: float = 300.0
    hpa_initial_readiness_delay: float = 30.0
    root_ca: str = ""  # PEM of the cluster CA the root-ca-cert-publisher hands out
    controllers: tuple[str, ...] = ()


@dataclass
class Context:
    """The shared pieces handed to every controller."""

    client: AsyncClient
    informers: InformerFactory
    recorder: EventRecorder
    options: Options = field(default_factory=Options)
    clock: Callable[[], float] = time.time
    overlay: Overlay = field(default_factory=Overlay)
    _indexes: dict[str, Index] = field(default_factory=dict)

    def index(self, resource: str) -> Index:
        """The shared informer for ``resource`` (all namespaces) with its indexes. Pods
        are cached with only the fields controllers read (``controllers.cached_pod``):
        controllers read pod templates from their owners, never from cached pods."""
        idx = self._indexes.get(resource)
        if idx is None:
            transform = cached_pod_transform() if resource == "pods" else None
            idx = Index(self.informers.informer(resource, transform=transform))
            self._indexes[resource] = idx
        return idx


class Controller:
    """A named work queue with N workers calling ``sync(key)``."""

    name = "controller"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.queue = WorkQueue(base_delay=0.005, max_delay=30.0, qps=None)
        self.syncs = 0
        self.errors = 0

    def setup(self) -> None:
        """Register informer handlers (called before the informers start)."""

    async def sync(self, key: str) -> float | None:
        """Reconcile one key; return seconds after which to look again, or None."""
        raise NotImplementedError

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    async def run(self, workers: int) -> None:
        """Run ``workers`` workers until the queue is shut down."""
        await asyncio.gather(*(self._worker() for _ in range(workers)))

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except QueueShutDown:
                return
            try:
                self.syncs += 1
                again = await self.sync(key)
                self.queue.forget(key)
                if again is not None:
                    self.queue.add_after(key, again)
            except asyncio.CancelledError:
                raise
            except ApiError as e:
                self.errors += 1
                level = logging.DEBUG if e.code in (404, 409) else logging.WARNING
                log.log(level, "%s: sync %s: %s (%s)", self.name, key, e, e.code)
                self.queue.add_rate_limited(key)
            except ServerUnreachable as e:
                self.errors += 1
                log.warning("%s: sync %s: %s", self.name, key, e)
                self.queue.add_rate_limited(key)
            except Exception:
                self.errors += 1
                log.exception("%s: sync %s failed", self.name, key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)


async def apply_action(ctx: Context, a: A.Action) -> Any:
    """Perform one action. A missing object on delete/patch is not an error."""
    c = ctx.client
    try:
        if a.verb == "event":
            assert a.body is not None
            ctx.recorder.record(a.body, a.event_type, a.reason, a.message)
            return None
        if a.verb == "create":
            assert a.body is not None
            out = await c.create(a.resource, a.body, a.namespace)
        elif a.verb == "delete":
            out = await c.delete(
                a.resource,
                a.name,
                a.namespace,
                propagation_policy=a.propagation_policy,
                grace_period_seconds=a.grace_period_seconds,
            )
        elif a.verb == "patch":
            out = await c.patch(
                a.resource,
                a.name,
                a.body,
                a.namespace,
                patch_type=a.patch_type,
                subresource=a.subresource,
            )
        elif a.verb == "replace":
            assert a.body is not None
            out = await c.replace(
                a.resource, a.name, a.body, a.namespace, subresource=a.subresource
            )
        else:
            raise ValueError(f"unknown action {a.verb}")
    except ApiError as e:
        if e.code == 404 and a.verb in ("delete", "patch", "replace"):
            return None
        raise
    if a.verb != "delete":
        ctx.overlay.remember(a.resource, out)
    return out


async def apply_all(ctx: Context, actions: list[A.Action]) -> None:
    """Apply actions in order; the first failure stops the rest (the key is requeued)."""
    for a in actions:
        await apply_action(ctx, a)
