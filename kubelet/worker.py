"""One pod's worker: compares the pod's spec with what the runtime has and takes a step.

Level-triggered: every wake-up (pod changed, a container started or died, a probe flipped,
a backoff expired, the resync period passed) runs ``sync``, which looks at the whole pod
again. Nothing depends on which of those woke it, so a missed event only costs a resync.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from api.errors import ApiError
from kubelet import containers as cspec
from kubelet.context import NodeContext
from kubelet.envvars import EnvError, referenced_config, resolve_env
from kubelet.events import NORMAL, WARNING
from kubelet.probes import (
    LIVENESS,
    PROBE_KEYS,
    READINESS,
    STARTUP,
    ProbeRunner,
    ProbeState,
    ProbeTarget,
)
from kubelet.runtime.base import ContainerInfo, ImagePullError, RuntimeError_
from kubelet.status import ContainerView, pod_status, status_differs
from kubelet.timeutil import now_rfc3339, seconds_between
from kubelet.volumes import VolumeError, container_mounts, prepare_volumes, remove_pod_dir

log = logging.getLogger(__name__)

TERMINAL = ("Succeeded", "Failed")


@dataclass
class ContainerTrack:
    """What the worker remembers about one container of its pod between syncs."""

    name: str
    current: ContainerInfo | None = None
    previous: ContainerInfo | None = None
    waiting_reason: str | None = None
    waiting_message: str = ""
    probes: dict[str, ProbeState] = field(default_factory=dict)
    runners: list[ProbeRunner] = field(default_factory=list)
    probed_id: str = ""
    startup_done: asyncio.Event = field(default_factory=asyncio.Event)
    pull_attempt: int = 0
    pull_error: str = ""
    backoff_event_for: str = ""
    failed_event_for: str = ""

    def stop_probes(self) -> None:
        for r in self.runners:
            r.stop()
        self.runners = []
        self.probed_id = ""

    @property
    def started(self) -> bool:
        if self.current is None or not self.current.running:
            return False
        startup = self.probes.get(STARTUP)
        return startup.ok if startup else True

    @property
    def ready(self) -> bool:
        if not self.started:
            return False
        readiness = self.probes.get(READINESS)
        return readiness.ok if readiness else True


def _desired(pod: dict[str, Any]) -> tuple[Any, ...]:
    """The parts of a pod that the worker acts on (not status, not resourceVersion)."""
    meta = pod.get("metadata") or {}
    return (
        pod.get("spec"),
        meta.get("deletionTimestamp"),
        meta.get("deletionGracePeriodSeconds"),
        meta.get("annotations"),
    )


async def _wait_event(event: asyncio.Event) -> None:
    await event.wait()


def default_pull_policy(image: str) -> str:
    """Always for ``:latest`` or an untagged image, else IfNotPresent (Kubernetes' rule)."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


class PodWorker:
    """Drives one pod (identified by uid) on this node until it is gone."""

    def __init__(self, ctx: NodeContext, pod: dict[str, Any], fresh: bool = False) -> None:
        self.ctx = ctx
        self.pod = pod
        self.uid: str = pod["metadata"]["uid"]
        self.namespace: str = pod["metadata"].get("namespace") or "default"
        self.name: str = pod["metadata"]["name"]
        self.deleted = False  # the API object is gone
        self.finished = asyncio.Event()
        self.tracks: dict[str, ContainerTrack] = {}
        self.host_ports: dict[str, int] | None = None
        self.last_written: dict[str, Any] | None = None
        self._wake = asyncio.Event()
        self._wake_at: float | None = None
        self._info: dict[str, ContainerInfo] = {}
        self._dying: dict[str, float] = {}  # container id -> give up waiting for its exit
        self._adopting = True  # the first sync may adopt running containers
        # A pod first seen after the kubelet's start-up scan has no containers yet, so the
        # first sync need not ask the runtime.
        self._fresh = fresh
        self.task: asyncio.Task[None] | None = None

    # -- outside world -------------------------------------------------------------------

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

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

    def wake(self) -> None:
        self._wake.set()

    def container_event(self, action: str, container_id: str) -> None:
        """A container of this pod started or died in the engine."""
        if action in ("die", "oom"):
            # Docker sends "die" before it records the exit, so a sync right now may still
            # see the container running: keep looking until it does not (see _refresh).
            self._dying[container_id] = time.monotonic() + 5.0
        self.wake()

    def wake_after(self, seconds: float) -> None:
        at = time.monotonic() + max(0.0, seconds)
        if self._wake_at is None or at < self._wake_at:
            self._wake_at = at

    def container_id(self, container: str, previous: bool = False) -> str | None:
        """The runtime id of a container's current (or previous) instance, for logs/exec."""
        track = self.tracks.get(container)
        if track is None:
            return None
        info = track.previous if previous else track.current
        return info.id if info else None

    def default_container(self) -> str | None:
        cs = (self.pod.get("spec") or {}).get("containers") or []
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
                        exc_info=not isinstance(e, (ApiError, RuntimeError_)),
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
        meta = self.pod.get("metadata") or {}
        if self.deleted or meta.get("deletionTimestamp"):
            await self.terminate()
            return True
        containers = (self.pod.get("spec") or {}).get("containers") or []
        await self._refresh(containers)
        if self._phase() in TERMINAL:
            for t in self.tracks.values():
                t.stop_probes()
            await self._write_status(containers)
            return False
        if self.host_ports is None:
            await self._publish_ports()
        for c in containers:
            await self._sync_container(c)
        self._adopting = False
        await self._write_status(containers)
        return False

    def _phase(self) -> str:
        status = self.last_written if self.last_written is not None else self.pod.get("status")
        return str((status or {}).get("phase") or "Pending")

    # -- observing the runtime -----------------------------------------------------------

    async def _refresh(self, containers: list[dict[str, Any]]) -> None:
        """Load this pod's containers from the runtime: the newest instance of each
        container is ``current``, the one before it ``previous``; older ones are removed."""
        rt = self.ctx.runtime
        if self._fresh:
            self._fresh = False
            listed = []
        else:
            listed = await rt.list(
                {cspec.LABEL_POD_UID: self.uid, cspec.LABEL_NODE: self.ctx.node_name}
            )
        by_name: dict[str, list[ContainerInfo]] = defaultdict(list)
        seen: set[str] = set()
        now = time.monotonic()
        for info in listed:
            if info.id in self._dying:
                if info.running and now < self._dying[info.id]:
                    self.wake_after(0.05)
                else:
                    del self._dying[info.id]
            cached = self._info.get(info.id)
            if cached is None or cached.state != info.state:
                full = await rt.inspect(info.id)
                if full is None:
                    continue
                self._info[info.id] = full
            seen.add(info.id)
            by_name[info.container_name].append(self._info[info.id])
        for cid in [c for c in self._info if c not in seen]:
            del self._info[cid]
        wanted = {c["name"] for c in containers}
        for name, infos in by_name.items():
            infos.sort(key=lambda i: (i.restart_count, i.created_at or ""))
            if name not in wanted:
                for info in infos:
                    await self._remove(info)
                continue
            for old in infos[:-2]:
                await self._remove(old)
        for c in containers:
            track = self.tracks.setdefault(c["name"], ContainerTrack(c["name"]))
            infos = by_name.get(c["name"], [])
            track.current = infos[-1] if infos else None
            track.previous = infos[-2] if len(infos) >= 2 else None

    async def _remove(self, info: ContainerInfo) -> None:
        try:
            await self.ctx.runtime.remove(info.id)
        except RuntimeError_ as e:
            log.warning("pod %s: removing container %s failed: %s", self.key, info.id[:12], e)
        self._info.pop(info.id, None)

    # -- one container -------------------------------------------------------------------

    async def _sync_container(self, c: dict[str, Any]) -> None:
        track = self.tracks[c["name"]]
        cur = track.current
        if cur is not None and cur.running:
            track.waiting_reason = None
            if cur.labels.get(cspec.LABEL_CONTAINER_HASH) != cspec.spec_hash(c):
                await self._kill(
                    c, track, f"Container {c['name']} definition changed, will be restarted"
                )
                return
            if self._probe_says_kill(track):
                kind = (
                    "startup"
                    if STARTUP in track.probes and not track.probes[STARTUP].ok
                    else "liveness"
                )
                await self._kill(
                    c, track, f"Container {c['name']} failed {kind} probe, will be restarted"
                )
                return
            self._ensure_probes(c, track)
            return
        track.stop_probes()
        if cur is not None and cur.state == "created":
            # Created but never started (the kubelet stopped in between): start it now.
            await self._start(c, track, cur.id)
            return
        if cur is not None and cur.exited:
            policy = (self.pod.get("spec") or {}).get("restartPolicy") or "Always"
            code = cur.exit_code or 0
            if policy == "Never" or (policy == "OnFailure" and code == 0):
                track.waiting_reason = None
                return
            key = f"{self.uid}/{c['name']}"
            ran = seconds_between(cur.started_at, cur.finished_at)
            wait = self.ctx.restart_backoff.remaining(key, cur.id, ran)
            if wait > 0:
                delay = self.ctx.restart_backoff.current_delay(key, cur.id)
                track.waiting_reason = "CrashLoopBackOff"
                track.waiting_message = (
                    f"back-off {delay:g}s restarting failed container={c['name']} "
                    f"pod={self.name}_{self.namespace}({self.uid})"
                )
                if track.backoff_event_for != cur.id:
                    track.backoff_event_for = cur.id
                    self._event(
                        WARNING,
                        "BackOff",
                        f"Back-off restarting failed container {c['name']} in pod {self.name}_{self.namespace}({self.uid})",
                        c,
                    )
                self.wake_after(wait)
                return
            await self._create_and_start(c, track, cur.restart_count + 1)
            return
        await self._create_and_start(c, track, 0)

    def _probe_says_kill(self, track: ContainerTrack) -> bool:
        live = track.probes.get(LIVENESS)
        if live is not None and not live.ok:
            return True
        startup = track.probes.get(STARTUP)
        return bool(startup and not startup.ok and startup.failures >= startup.failure_threshold)

    async def _kill(self, c: dict[str, Any], track: ContainerTrack, message: str) -> None:
        assert track.current is not None
        self._event(NORMAL, "Killing", message, c)
        track.stop_probes()
        grace = self._grace(c)
        try:
            await self.ctx.runtime.stop(track.current.id, grace)
        except RuntimeError_ as e:
            log.warning("pod %s: stopping %s failed: %s", self.key, c["name"], e)
        track.probes = {}
        self.wake()

    def _grace(self, c: dict[str, Any] | None = None) -> float:
        meta = self.pod.get("metadata") or {}
        if meta.get("deletionGracePeriodSeconds") is not None:
            return float(meta["deletionGracePeriodSeconds"])
        spec = self.pod.get("spec") or {}
        value = spec.get("terminationGracePeriodSeconds")
        return float(30 if value is None else value)

    async def _create_and_start(
        self, c: dict[str, Any], track: ContainerTrack, restarts: int
    ) -> None:
        if not await self._ensure_image(c, track):
            return
        try:
            spec = await self._build_spec(c, restarts)
        except (EnvError, VolumeError, ValueError) as e:
            track.waiting_reason = "CreateContainerConfigError"
            track.waiting_message = str(e)
            if track.failed_event_for != str(e):
                track.failed_event_for = str(e)
                self._event(WARNING, "Failed", f"Error: {e}", c)
            self.wake_after(min(5.0, self.ctx.config.backoff_initial))
            return
        track.failed_event_for = ""
        try:
            cid = await self.ctx.runtime.create(spec)
        except RuntimeError_ as e:
            track.waiting_reason = "CreateContainerError"
            track.waiting_message = str(e)
            self._event(WARNING, "Failed", f"Error: {e}", c)
            self.wake_after(min(5.0, self.ctx.config.backoff_initial))
            return
        self._event(NORMAL, "Created", f"Created container {c['name']}", c)
        await self._start(c, track, cid)

    async def _start(self, c: dict[str, Any], track: ContainerTrack, cid: str) -> None:
        try:
            await self.ctx.runtime.start(cid)
        except RuntimeError_ as e:
            # The dead instance stays, so its error shows as lastState and backoff applies.
            self._event(WARNING, "Failed", f"Error: {e}", c)
            self.wake()
            return
        self._event(NORMAL, "Started", f"Started container {c['name']}", c)
        info = await self.ctx.runtime.inspect(cid)
        if info is not None:
            self._info[cid] = info
            if track.current is not None and track.current.id != cid:
                # Keep one dead instance (for lastState and `logs --previous`), no more.
                if track.previous is not None:
                    await self._remove(track.previous)
                track.previous = track.current
            track.current = info
        track.waiting_reason = None
        track.probes = {}
        if info is not None and info.running:
            self._ensure_probes(c, track)
        else:
            self.wake()

    async def _ensure_image(self, c: dict[str, Any], track: ContainerTrack) -> bool:
        image = c.get("image", "")
        policy = c.get("imagePullPolicy") or default_pull_policy(image)
        rt = self.ctx.runtime
        present = await rt.image_present(image)
        if policy == "Never" or (policy == "IfNotPresent" and present):
            if not present:
                track.waiting_reason = "ErrImageNeverPull"
                track.waiting_message = (
                    f'Container image "{image}" is not present with pull policy of Never'
                )
                self.wake_after(self.ctx.config.backoff_initial)
                return False
            if track.pull_attempt == 0 or track.pull_error:
                self._event(
                    NORMAL, "Pulled", f'Container image "{image}" already present on machine', c
                )
            track.pull_error = ""
            track.pull_attempt += 1
            return True
        key = f"{self.uid}/{c['name']}/pull"
        if track.pull_error:
            wait = self.ctx.pull_backoff.remaining(key, str(track.pull_attempt))
            if wait > 0:
                track.waiting_reason = "ImagePullBackOff"
                track.waiting_message = (
                    f'Back-off pulling image "{image}": ErrImagePull: {track.pull_error}'
                )
                if track.backoff_event_for != f"pull-{track.pull_attempt}":
                    track.backoff_event_for = f"pull-{track.pull_attempt}"
                    self._event(NORMAL, "BackOff", f'Back-off pulling image "{image}"', c)
                self.wake_after(wait)
                return False
        self._event(NORMAL, "Pulling", f'Pulling image "{image}"', c)
        began = time.monotonic()
        try:
            await rt.pull(image)
        except ImagePullError as e:
            track.pull_attempt += 1
            track.pull_error = str(e)
            track.waiting_reason = "ErrImagePull"
            track.waiting_message = str(e)
            self._event(WARNING, "Failed", f'Failed to pull image "{image}": {e}', c)
            self._event(WARNING, "Failed", "Error: ErrImagePull", c)
            # Start the backoff clock for this attempt now; a resync halfway through the
            # wait shows ImagePullBackOff, as the real kubelet's periodic sync does.
            wait = self.ctx.pull_backoff.remaining(key, str(track.pull_attempt))
            self.wake_after(min(self.ctx.config.resync_period, wait / 2))
            return False
        track.pull_attempt += 1
        track.pull_error = ""
        self.ctx.pull_backoff.reset(key)
        self._event(
            NORMAL,
            "Pulled",
            f'Successfully pulled image "{image}" in {time.monotonic() - began:.3f}s',
            c,
        )
        return True

    async def _build_spec(self, c: dict[str, Any], restarts: int) -> Any:
        cm_names, secret_names = referenced_config(self.pod)
        configmaps = {n: await self._get_optional("configmaps", n) for n in cm_names}
        secrets = {n: await self._get_optional("secrets", n) for n in secret_names}
        volume_paths = await asyncio.to_thread(
            prepare_volumes, self.ctx.config.root_dir, self.pod, configmaps, secrets
        )
        env = resolve_env(self.pod, c, configmaps, secrets, self.ctx.address, self.service_env())
        mounts = container_mounts(c, volume_paths)
        return cspec.build_spec(
            node=self.ctx.node_name,
            address=self.ctx.address,
            pod=self.pod,
            container=c,
            restart_count=restarts,
            env=env,
            mounts=mounts,
            host_ports=self.host_ports or {},
            real_gpus=self.ctx.config.real_gpus,
        )

    def service_env(self) -> dict[str, str]:
        """Service environment variables (``<NAME>_SERVICE_HOST``); filled in by the service
        proxy when it exists (issue 8)."""
        provider = getattr(self.ctx, "service_env", None)
        return dict(provider(self.namespace)) if callable(provider) else {}

    async def _get_optional(self, resource: str, name: str) -> dict[str, Any] | None:
        try:
            return await self.ctx.client.get(resource, name, self.namespace)
        except ApiError as e:
            if e.code == 404:
                return None
            raise

    # -- probes --------------------------------------------------------------------------

    def _ensure_probes(self, c: dict[str, Any], track: ContainerTrack) -> None:
        cur = track.current
        if cur is None or track.probed_id == cur.id:
            return
        track.stop_probes()
        track.probed_id = cur.id
        track.startup_done = asyncio.Event()
        fresh = not track.probes
        if fresh:
            track.probes = {
                kind: ProbeState(kind, c[key]) for kind, key in PROBE_KEYS.items() if c.get(key)
            }
            if self._adopting:
                self._restore_probe_results(c["name"], cur.id, track)
        if STARTUP not in track.probes or track.probes[STARTUP].ok:
            track.startup_done.set()
        target = self._probe_target(c)
        started = time.monotonic() - max(0.0, seconds_between(cur.started_at, now_rfc3339()))
        for kind, state in track.probes.items():
            runner = ProbeRunner(
                state,
                self.ctx.runtime,
                cur.id,
                target,
                on_change=functools.partial(self._probe_changed, track),
                on_failure=functools.partial(self._probe_failed, c),
                gate=None
                if kind == STARTUP
                else functools.partial(_wait_event, track.startup_done),
                started_monotonic=started,
            )
            runner.start()
            track.runners.append(runner)

    def _restore_probe_results(self, name: str, cid: str, track: ContainerTrack) -> None:
        """After a kubelet restart keep the last reported readiness of an adopted
        container, so Ready does not flap while the first probe runs."""
        for s in (self.pod.get("status") or {}).get("containerStatuses") or []:
            if s.get("name") == name and str(s.get("containerID", "")).endswith(cid):
                if READINESS in track.probes:
                    track.probes[READINESS].ok = bool(s.get("ready"))
                if STARTUP in track.probes:
                    track.probes[STARTUP].ok = bool(s.get("started"))

    def _probe_target(self, c: dict[str, Any]) -> ProbeTarget:
        prefix = f"{c['name']}/"
        host_ports = {
            int(k[len(prefix) :]): v
            for k, v in (self.host_ports or {}).items()
            if k.startswith(prefix)
        }
        named = {p["name"]: int(p["containerPort"]) for p in c.get("ports") or [] if p.get("name")}
        return ProbeTarget(self.ctx.address, host_ports, named)

    def _probe_changed(self, track: ContainerTrack, state: ProbeState) -> None:
        if state.kind == STARTUP and state.ok:
            track.startup_done.set()
        self.wake()

    def _probe_failed(self, c: dict[str, Any], state: ProbeState) -> None:
        kind = state.kind.capitalize()
        self._event(WARNING, "Unhealthy", f"{kind} probe failed: {state.last_message}", c)
        if state.kind == STARTUP and state.failures >= state.failure_threshold:
            self.wake()

    # -- ports, status, events -----------------------------------------------------------

    async def _publish_ports(self) -> None:
        plan = cspec.plan_ports(self.pod, self.ctx.address, self.ctx.host_ports_in_use)
        self.host_ports = plan
        self.ctx.host_ports_in_use.update(plan.values())
        if not plan:
            return
        value = json.dumps(plan, sort_keys=True, separators=(",", ":"))
        annotations = (self.pod.get("metadata") or {}).get("annotations") or {}
        if annotations.get(cspec.HOST_PORTS_ANNOTATION) == value:
            return
        patch = {"metadata": {"annotations": {cspec.HOST_PORTS_ANNOTATION: value}}}
        try:
            self.pod = await self.ctx.client.patch("pods", self.name, patch, self.namespace)
        except ApiError as e:
            log.warning("pod %s: cannot record host ports: %s", self.key, e)

    async def _write_status(self, containers: list[dict[str, Any]]) -> None:
        views = []
        for c in containers:
            t = self.tracks.get(c["name"]) or ContainerTrack(c["name"])
            views.append(
                ContainerView(
                    name=c["name"],
                    image=c.get("image", ""),
                    current=t.current,
                    previous=t.previous,
                    restart_count=t.current.restart_count if t.current else 0,
                    waiting_reason=t.waiting_reason,
                    waiting_message=t.waiting_message,
                    ready=t.ready,
                    started=t.started,
                )
            )
        base = (
            self.last_written if self.last_written is not None else (self.pod.get("status") or {})
        )
        if base.get("phase") in TERMINAL:
            return  # a finished pod's status is final
        new = pod_status(
            {**self.pod, "status": base},
            views,
            runtime=self.ctx.runtime.name,
            host_ip=self.ctx.address,
            now=now_rfc3339(),
        )
        if not status_differs(base, new):
            return
        try:
            await self.ctx.client.patch(
                "pods", self.name, {"status": new}, self.namespace, subresource="status"
            )
        except ApiError as e:
            if e.code == 404:
                self.deleted = True
                self.wake()
                return
            raise
        self.last_written = new

    def _event(
        self, type_: str, reason: str, message: str, c: dict[str, Any] | None = None
    ) -> None:
        field_path = f"spec.containers{{{c['name']}}}" if c else None
        self.ctx.recorder.event(self.pod, type_, reason, message, field_path)

    # -- termination ---------------------------------------------------------------------

    async def terminate(self) -> None:
        """Stop every container (SIGTERM, grace, SIGKILL), remove them, finish the deletion
        in the API, then remove the pod's volumes."""
        rt = self.ctx.runtime
        for t in self.tracks.values():
            t.stop_probes()
        grace = self._grace()
        listed = await rt.list(
            {cspec.LABEL_POD_UID: self.uid, cspec.LABEL_NODE: self.ctx.node_name}
        )
        running = [i for i in listed if i.state == "running"]
        specs = {c["name"]: c for c in (self.pod.get("spec") or {}).get("containers") or []}
        for info in running:
            self._event(
                NORMAL,
                "Killing",
                f"Stopping container {info.container_name}",
                specs.get(info.container_name),
            )
        results = await asyncio.gather(
            *(rt.stop(i.id, grace) for i in running), return_exceptions=True
        )
        for r in results:
            if isinstance(r, Exception):
                log.warning("pod %s: stop failed: %s", self.key, r)
        # Remove the containers before the object goes: once a user sees the pod gone,
        # nothing of it is left on the node.
        for info in listed:
            await self._remove(info)
        if not self.deleted:
            await self._finish_deletion()
        await asyncio.to_thread(remove_pod_dir, self.ctx.config.root_dir, self.uid)
        if self.host_ports:
            self.ctx.host_ports_in_use.difference_update(self.host_ports.values())
        self.ctx.restart_backoff.forget_prefix(f"{self.uid}/")
        self.ctx.pull_backoff.forget_prefix(f"{self.uid}/")

    async def _finish_deletion(self) -> None:
        """DELETE with gracePeriodSeconds=0, but only our pod: a pod of the same name made
        since (another uid) is left alone."""
        try:
            current = await self.ctx.client.get("pods", self.name, self.namespace)
            if (current.get("metadata") or {}).get("uid") != self.uid:
                return
            await self.ctx.client.delete("pods", self.name, self.namespace, grace_period_seconds=0)
        except ApiError as e:
            if e.code != 404:
                raise
