"""The state one pod's worker keeps between syncs, and the small services the I/O of a
sync uses (events, wake-ups, removing an instance). The decisions are ``plan``'s; the
runtime and API calls live in ``executor`` and the modules it calls (instances, images,
launch, probing, status_writer, termination), which take a ``PodHandle``;
``worker.PodWorker`` adds the loop that drives them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kubelet.context import NodeContext
from kubelet.runtime.base import ContainerInfo, RuntimeError_
from kubelet.status import PodFailure
from kubelet.track import ContainerTrack
from kubelet.volume_projected import IssuedToken

log = logging.getLogger(__name__)


class PodHandle:
    """One pod (identified by uid) on this node: what the kubelet knows and remembers."""

    def __init__(self, ctx: NodeContext, pod: dict[str, Any], fresh: bool = False) -> None:
        self.ctx = ctx
        self.pod = pod
        self.uid: str = pod["metadata"]["uid"]
        self.namespace: str = pod["metadata"].get("namespace") or "default"
        self.name: str = pod["metadata"]["name"]
        self.deleted = False  # the API object is gone
        self.tracks: dict[str, ContainerTrack] = {}  # init and app containers, by name
        self.host_ports: dict[str, int] | None = None
        self.last_written: dict[str, Any] | None = None
        # The pod's resourceVersion right after that write: a later version of the pod
        # is someone else's write, whose status the next write compares with.
        self.last_written_rv: str | None = None
        self.info: dict[str, ContainerInfo] = {}  # inspected instances, by container id
        self.dying: dict[str, float] = {}  # container id -> give up waiting for its exit
        self.adopting = True  # the first sync may adopt running containers
        # A pod first seen after the kubelet's start-up scan has no containers yet, so the
        # first sync need not ask the runtime.
        self.fresh = fresh
        self.volumes_refreshed_at: float | None = None  # monotonic; see volume_refresh
        # Service account tokens of its projected volumes, by volume/path (volume_projected).
        self.tokens: dict[str, IssuedToken] = {}
        self.sandbox: ContainerInfo | None = None  # holds the pod's network namespace
        self.sandbox_failure = ""  # the last FailedCreatePodSandBox message recorded
        self.sandbox_waiting = ""  # the waiting message the sandbox step gave the containers
        # The pod gets an address of its own (its sandbox's), so until the sandbox runs
        # it has none; False: its address is the node's (hostNetwork, no pod network).
        self.on_pod_network = False
        # Set when the kubelet fails the pod (a GPU it holds broke: kubelet/gpu_monitor.py).
        self.failure: PodFailure | None = None
        self._wake = asyncio.Event()
        self._wake_at: float | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def spec(self) -> dict[str, Any]:
        return self.pod.get("spec") or {}

    @property
    def pod_ip(self) -> str:
        """The pod's own address (its sandbox's); "" on the node's network."""
        return self.sandbox.ip if self.sandbox is not None else ""

    def init_containers(self) -> list[dict[str, Any]]:
        return list(self.spec.get("initContainers") or [])

    def app_containers(self) -> list[dict[str, Any]]:
        return list(self.spec.get("containers") or [])

    def wake(self) -> None:
        self._wake.set()

    def wake_after(self, seconds: float) -> None:
        at = time.monotonic() + max(0.0, seconds)
        if self._wake_at is None or at < self._wake_at:
            self._wake_at = at

    def phase(self) -> str:
        status = self.last_written if self.last_written is not None else self.pod.get("status")
        return str((status or {}).get("phase") or "Pending")

    def event(self, type_: str, reason: str, message: str, c: dict[str, Any] | None = None) -> None:
        """Record a pod event; ``c`` names the container in involvedObject.fieldPath."""
        field_path = None
        if c is not None:
            inits = {i.get("name") for i in self.init_containers()}
            group = "initContainers" if c["name"] in inits else "containers"
            field_path = f"spec.{group}{{{c['name']}}}"
        self.ctx.recorder.record(self.pod, type_, reason, message, field_path)

    async def remove_instance(self, info: ContainerInfo) -> None:
        """Remove one container instance from the runtime (a failure is only logged)."""
        try:
            await self.ctx.runtime.remove(info.id)
        except RuntimeError_ as e:
            log.warning("pod %s: removing container %s failed: %s", self.key, info.id[:12], e)
        self.info.pop(info.id, None)
