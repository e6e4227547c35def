"""One pod's worker: compares the pod's spec with what the runtime has and takes a step.

Level-triggered: every wake-up (pod changed, a container started or died, a probe flipped,
a backoff expired, the resync period passed) runs ``sync``, which looks at the whole pod
again. Nothing depends on which of those woke it, so a missed event only costs a resync.

A sync is observe, plan, execute, as the Kubernetes kubelet's ``computePodActions`` then
``SyncPod``: ``executor.observe`` builds an immutable view (what the runtime has, probe
results, restart backoff), ``plan.compute_pod_actions`` decides purely what to do, and
``executor.execute`` only makes the runtime and API calls the plan names.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from api.errors import ApiError
from client import ServerUnreachable
from kubelet.context import NodeContext
from kubelet.executor import execute, observe
from kubelet.plan import compute_pod_actions
from kubelet.podhandle import PodHandle
from kubelet.runtime.base import RuntimeError_

log = logging.getLogger(__name__)


def _desired(pod: dict[str, Any]) -> tuple[Any, ...]:
    """The parts of a pod that the worker acts on (not status, not resourceVersion)."""
    meta = pod.get("metadata") or {}
    return (
        pod.get("spec"),
        meta.get("deletionTimestamp"),
        meta.get("deletionGracePeriodSeconds"),
        meta.get("annotations"),
    )


class PodWorker(PodHandle):
    """Drives one pod (identified by uid) on this node until it is gone."""

    def __init__(self, ctx: NodeContext, pod: dict[str, Any], fresh: bool = False) -> None:
        super().__init__(ctx, pod, fresh)
        self.finished = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    # -- outside world -------------------------------------------------------------------

    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name=f"pod-{self.key}")

    def update(self, pod: dict[str, Any]) -> None:
        """The informer saw a newer version of the pod. Only a change to what the kubelet
        acts on wakes the worker: our own status writes come back here too, and a sync
        for each of them would be wasted work."""
        old = self.pod
        self.pod = pod
        if _desired(old) != _desired(pod):
            self.wake()

    def mark_deleted(self) -> None:
        """The pod object disappeared from the API: stop everything."""
        self.deleted = True
        self.wake()

    def container_event(self, action: str, container_id: str) -> None:
        """A container of this pod started or died in the engine."""
        if action in ("die", "oom"):
            # Docker sends "die" before it records the exit, so a sync right now may still
            # see the container running: keep looking until it does not (see instances).
            self.dying[container_id] = time.monotonic() + 5.0
        self.wake()

    def container_id(self, container: str, previous: bool = False) -> str | None:
        """The runtime id of a container's current (or previous) instance, for logs/exec."""
        track = self.tracks.get(container)
        if track is None:
            return None
        info = track.previous if previous else track.current
        return info.id if info else None

    def default_container(self) -> str | None:
        cs = self.app_containers()
        return cs[0]["name"] if cs else None

    async def stop(self) -> None:
        """Stop the worker task (the kubelet is shutting down); containers keep running."""
        for t in self.tracks.values():
            t.stop_probes()
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass

    # -- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                self._wake.clear()
                self._wake_at = None
                try:
                    if await self.sync():
                        break
                except asyncio.CancelledError:
                    raise
                except Exception as e:  # noqa: BLE001 - one bad sync must not kill the worker
                    log.warning(
                        "pod %s: sync failed: %s",
                        self.key,
                        e,
                        exc_info=not isinstance(e, (ApiError, RuntimeError_, ServerUnreachable)),
                    )
                    self.wake_after(1.0)
                timeout = self.ctx.config.resync_period
                if self._wake_at is not None:
                    timeout = min(timeout, max(0.0, self._wake_at - time.monotonic()))
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout)
                except TimeoutError:
                    pass
        finally:
            for t in self.tracks.values():
                t.stop_probes()
            self.finished.set()

    async def sync(self) -> bool:
        """One reconcile step; True when the pod is finished and the worker can end."""
        return await execute(self, compute_pod_actions(await observe(self)))
