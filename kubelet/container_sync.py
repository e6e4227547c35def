"""One step for one container: keep it running (restart on a changed spec or a failed
probe), start it, or restart it after it exited as the restart policy and the crash-loop
backoff allow."""

from __future__ import annotations

import logging
from typing import Any

from client.events import NORMAL, WARNING
from kubelet import containers as cspec
from kubelet.launch import create_and_start, start
from kubelet.podhandle import PodHandle
from kubelet.probes import STARTUP
from kubelet.probing import ensure_probes, probe_says_kill
from kubelet.runtime.base import RuntimeError_
from kubelet.timeutil import seconds_between
from kubelet.track import ContainerTrack

log = logging.getLogger(__name__)


def restart_policy_for(pod_policy: str, init: bool) -> str:
    """An init container that succeeded is done whatever the pod's policy: Always acts
    as OnFailure for it (Kubernetes' rule)."""
    if init and pod_policy == "Always":
        return "OnFailure"
    return pod_policy


async def sync_container(h: PodHandle, c: dict[str, Any], init: bool = False) -> None:
    """Take one step towards ``c`` running (or finished, as its restart policy says)."""
    track = h.tracks[c["name"]]
    cur = track.current
    if cur is not None and cur.running:
        track.waiting_reason = None
        if cur.labels.get(cspec.LABEL_CONTAINER_HASH) != cspec.spec_hash(c):
            await kill(h, c, track, f"Container {c['name']} definition changed, will be restarted")
            return
        if init:
            return  # init containers have no probes: wait for the exit
        if probe_says_kill(track):
            kind = (
                "startup"
                if STARTUP in track.probes and not track.probes[STARTUP].ok
                else "liveness"
            )
            await kill(h, c, track, f"Container {c['name']} failed {kind} probe, will be restarted")
            return
        ensure_probes(h, c, track)
        return
    track.stop_probes()
    if cur is not None and cur.state == "created":
        # Created but never started (the kubelet stopped in between): start it now.
        await start(h, c, track, cur.id, probes=not init)
        return
    if cur is not None and cur.exited:
        policy = restart_policy_for(h.spec.get("restartPolicy") or "Always", init)
        code = cur.exit_code or 0
        if policy == "Never" or (policy == "OnFailure" and code == 0):
            track.waiting_reason = None
            return
        key = f"{h.uid}/{c['name']}"
        ran = seconds_between(cur.started_at, cur.finished_at)
        wait = h.ctx.restart_backoff.remaining(key, cur.id, ran)
        if wait > 0:
            delay = h.ctx.restart_backoff.current_delay(key, cur.id)
            track.waiting_reason = "CrashLoopBackOff"
            track.waiting_message = (
                f"back-off {delay:g}s restarting failed container={c['name']} "
                f"pod={h.name}_{h.namespace}({h.uid})"
            )
            if track.backoff_event_for != cur.id:
                track.backoff_event_for = cur.id
                h.event(
                    WARNING,
                    "BackOff",
                    f"Back-off restarting failed container {c['name']} in pod "
                    f"{h.name}_{h.namespace}({h.uid})",
                    c,
                )
            h.wake_after(wait)
            return
        await create_and_start(h, c, track, cur.restart_count + 1, init)
        return
    await create_and_start(h, c, track, 0, init)


async def kill(h: PodHandle, c: dict[str, Any], track: ContainerTrack, message: str) -> None:
    """Stop the current instance (SIGTERM, grace, SIGKILL); the next sync restarts it."""
    assert track.current is not None
    h.event(NORMAL, "Killing", message, c)
    track.stop_probes()
    try:
        await h.ctx.runtime.stop(track.current.id, h.grace())
    except RuntimeError_ as e:
        log.warning("pod %s: stopping %s failed: %s", h.key, c["name"], e)
    track.probes = {}
    h.wake()
