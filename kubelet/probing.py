"""Running a container's liveness, readiness and startup probes (``probes.ProbeRunner``)
for a pod worker, and reading what they say."""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

from client.events import WARNING
from kubelet.podhandle import PodHandle
from kubelet.probes import (
    PROBE_KEYS,
    READINESS,
    STARTUP,
    ProbeRunner,
    ProbeState,
    ProbeTarget,
)
from kubelet.timeutil import now_rfc3339, seconds_between
from kubelet.track import ContainerTrack


async def _wait_event(event: asyncio.Event) -> None:
    await event.wait()


def ensure_probes(h: PodHandle, c: dict[str, Any], track: ContainerTrack) -> None:
    """Start the probes of the container's current instance, once per instance."""
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
        if h.adopting:
            _restore_probe_results(h, c["name"], cur.id, track)
    if STARTUP not in track.probes or track.probes[STARTUP].ok:
        track.startup_done.set()
    target = probe_target(h, c)
    started = time.monotonic() - max(0.0, seconds_between(cur.started_at, now_rfc3339()))
    for kind, state in track.probes.items():
        runner = ProbeRunner(
            state,
            h.ctx.runtime,
            cur.id,
            target,
            on_change=functools.partial(_probe_changed, h, track),
            on_failure=functools.partial(_probe_failed, h, c),
            gate=None if kind == STARTUP else functools.partial(_wait_event, track.startup_done),
            started_monotonic=started,
        )
        runner.start()
        track.runners.append(runner)


def _restore_probe_results(h: PodHandle, name: str, cid: str, track: ContainerTrack) -> None:
    """After a kubelet restart keep the last reported readiness of an adopted
    container, so Ready does not flap while the first probe runs."""
    for s in (h.pod.get("status") or {}).get("containerStatuses") or []:
        if s.get("name") == name and str(s.get("containerID", "")).endswith(cid):
            if READINESS in track.probes:
                track.probes[READINESS].ok = bool(s.get("ready"))
            if STARTUP in track.probes:
                track.probes[STARTUP].ok = bool(s.get("started"))


def probe_target(h: PodHandle, c: dict[str, Any]) -> ProbeTarget:
    """Where ``c``'s probes and lifecycle hooks connect: the node and its published ports."""
    prefix = f"{c['name']}/"
    host_ports = {
        int(k[len(prefix) :]): v for k, v in (h.host_ports or {}).items() if k.startswith(prefix)
    }
    named = {p["name"]: int(p["containerPort"]) for p in c.get("ports") or [] if p.get("name")}
    # A pod with its own address is probed there, on its container ports.
    return ProbeTarget(h.pod_ip or h.ctx.address, host_ports, named)


def _probe_changed(h: PodHandle, track: ContainerTrack, state: ProbeState) -> None:
    if state.kind == STARTUP and state.ok:
        track.startup_done.set()
    h.wake()


def _probe_failed(h: PodHandle, c: dict[str, Any], state: ProbeState) -> None:
    kind = state.kind.capitalize()
    h.event(WARNING, "Unhealthy", f"{kind} probe failed: {state.last_message}", c)
    if state.kind == STARTUP and state.failures >= state.failure_threshold:
        h.wake()
