"""The I/O half of a pod's sync, around the pure plan (``plan.compute_pod_actions``):
``observe`` asks the runtime and the worker's memory for a ``PodView``, ``execute`` carries
out the ``PodActions`` with runtime and API calls (the Kubernetes kubelet's ``SyncPod``).
Nothing here decides what to do; it only does what the plan says, in its order."""

from __future__ import annotations

import logging
from typing import Any

from client.events import NORMAL, WARNING
from kubelet.instances import refresh
from kubelet.launch import create_and_start, publish_ports, start
from kubelet.lifecycle import stop_container
from kubelet.ownership import pod_containers
from kubelet.plan import (
    Completed,
    ContainerStep,
    CrashLoopBackOff,
    Create,
    KeepRunning,
    Kill,
    ObservedContainer,
    PodActions,
    PodView,
    ProbeResult,
    StartCreated,
    terminating,
)
from kubelet.podhandle import PodHandle
from kubelet.podnet_sandbox import clear_waiting, release_sandbox, run_sandbox
from kubelet.probing import ensure_probes
from kubelet.runtime.base import RuntimeError_
from kubelet.status_writer import write_status
from kubelet.termination import terminate
from kubelet.track import ContainerTrack
from kubelet.volume_refresh import refresh_volumes

log = logging.getLogger(__name__)


def _backoff_key(h: PodHandle, name: str) -> str:
    return f"{h.uid}/{name}"


async def observe(h: PodHandle) -> PodView:
    """What the plan decides from: the runtime's instances (loaded into ``h.tracks``), the
    probes' results, the restart backoff's memory and the clock."""
    backoff = h.ctx.restart_backoff
    # One version of the pod for the whole view: the informer replaces ``h.pod`` (and a
    # DELETED event sets ``h.deleted``) while the runtime calls below are awaited. A view
    # of running containers paired with a pod deleted meanwhile would plan a termination
    # that lists no instance, so it would complete the deletion and leave them running.
    pod, deleted = h.pod, h.deleted
    if terminating(pod, deleted):
        # Every instance the runtime lists for the pod, whatever its name: all must go.
        listed = await pod_containers(h.ctx.runtime, h.ctx.cluster_uid, h.ctx.node_name, h.uid)
        return PodView(
            pod=pod,
            now=backoff.clock(),
            observed={},
            rule=backoff.rule,
            api_deleted=deleted,
            phase=h.phase(),
            instances=tuple(listed),
        )
    containers = h.init_containers() + h.app_containers()
    await refresh(h, containers)
    podnet = h.ctx.podnet
    if podnet is not None and not podnet.cidr:
        await podnet.refresh(h.ctx.client)
    return PodView(
        pod=pod,
        now=backoff.clock(),
        observed={c["name"]: _observed(h, c["name"], h.tracks[c["name"]]) for c in containers},
        rule=backoff.rule,
        api_deleted=deleted,
        phase=h.phase(),
        ports_published=h.host_ports is not None,
        pod_network=podnet.state if podnet is not None else "off",
        sandbox=h.sandbox,
        failure=h.failure,
    )


def _observed(h: PodHandle, name: str, track: ContainerTrack) -> ObservedContainer:
    return ObservedContainer(
        current=track.current,
        probes=tuple(
            ProbeResult(s.kind, s.ok, s.failures, s.failure_threshold)
            for s in track.probes.values()
        ),
        backoff=h.ctx.restart_backoff.entry(_backoff_key(h, name)),
        backoff_event_for=track.backoff_event_for,
    )


async def execute(h: PodHandle, actions: PodActions) -> bool:
    """Carry out one sync's plan; True when the pod is gone and its worker can end."""
    if actions.terminate is not None:
        await terminate(h, actions.terminate)
        return True
    if actions.finished:
        for t in h.tracks.values():
            t.stop_probes()
        await write_status(h)
        await release_sandbox(h)
        return False
    # The containers of the pod the plan was made from (publishing ports re-reads it).
    specs = {c["name"]: c for c in h.init_containers() + h.app_containers()}
    if actions.failed is not None:
        for step in actions.steps:
            await _run_step(h, step, specs[step.name], h.tracks[step.name])
        await write_status(h)  # Failed, with the failure's reason: nothing runs again
        await release_sandbox(h)
        return False
    h.on_pod_network = actions.own_ip or actions.sandbox is not None
    if actions.sandbox is not None:
        if actions.sandbox.action == "recreate":
            for kill in actions.kills:
                await _run_step(h, kill, specs[kill.name], h.tracks[kill.name])
        if not await run_sandbox(h, actions.sandbox):
            await write_status(h)
            return False
        if actions.sandbox.action == "recreate":
            await write_status(h)
            return False  # the killed containers start again in the next sync
    clear_waiting(h)
    if actions.own_ip:
        h.host_ports = {}  # reached at the pod's address: nothing published for it
    elif actions.publish_ports:
        await publish_ports(h)
    for step in actions.steps:
        await _run_step(h, step, specs[step.name], h.tracks[step.name])
    await refresh_volumes(h)
    h.adopting = False
    await write_status(h)
    await release_sandbox(h)
    return False


async def _run_step(
    h: PodHandle, step: ContainerStep, c: dict[str, Any], track: ContainerTrack
) -> None:
    if isinstance(step, Kill):
        track.waiting_reason = None  # it runs, until the kill
        await _kill(h, c, track, step)
        return
    if isinstance(step, KeepRunning):
        track.waiting_reason = None
        if step.probes:
            ensure_probes(h, c, track)
        return
    # Not running: nothing to probe.
    track.stop_probes()
    if isinstance(step, StartCreated):
        await start(h, c, track, step.container_id, probes=not step.init)
    elif isinstance(step, Create):
        if step.backoff is not None:
            h.ctx.restart_backoff.record(_backoff_key(h, step.name), step.backoff)
        await create_and_start(h, c, track, step.restart_count, step.init)
    elif isinstance(step, CrashLoopBackOff):
        h.ctx.restart_backoff.record(_backoff_key(h, step.name), step.backoff)
        track.waiting_reason = "CrashLoopBackOff"
        track.waiting_message = step.message
        if step.event is not None:
            track.backoff_event_for = step.death_id
            h.event(WARNING, "BackOff", step.event, c)
        h.wake_after(step.until - h.ctx.restart_backoff.clock())
    elif isinstance(step, Completed):
        track.waiting_reason = None


async def _kill(h: PodHandle, c: dict[str, Any], track: ContainerTrack, step: Kill) -> None:
    """Stop the instance (SIGTERM, grace, SIGKILL); the next sync restarts it."""
    h.event(NORMAL, "Killing", step.message, c)
    track.stop_probes()
    try:
        await stop_container(h, c, step.container_id, step.grace)  # preStop first
    except RuntimeError_ as e:
        log.warning("pod %s: stopping %s failed: %s", h.key, step.name, e)
    track.probes = {}
    h.wake()
