"""Which instances of each of a pod's containers the runtime has: the newest is
``current``, the one before it ``previous`` (for lastState and ``logs --previous``); older
ones, and those of containers the spec no longer names, are removed."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

from kubelet.ownership import pod_containers
from kubelet.podhandle import PodHandle
from kubelet.runtime.base import ContainerInfo
from kubelet.termination_message import with_termination_message
from kubelet.track import ContainerTrack


async def refresh(h: PodHandle, containers: list[dict[str, Any]]) -> None:
    """Load the instances of ``containers`` (init and app) into ``h.tracks``."""
    rt = h.ctx.runtime
    if h.fresh:
        h.fresh = False
        listed = []
    else:
        listed = await pod_containers(rt, h.ctx.cluster_uid, h.ctx.node_name, h.uid)
    specs = {c["name"]: c for c in containers}
    by_name: dict[str, list[ContainerInfo]] = defaultdict(list)
    seen: set[str] = set()
    now = time.monotonic()
    sandboxes = [i for i in listed if i.sandbox]
    listed = [i for i in listed if not i.sandbox]
    await _refresh_sandbox(h, sandboxes)
    for info in listed:
        if info.id in h.dying:
            # Docker sends "die" before it records the exit: look again shortly.
            if info.running and now < h.dying[info.id]:
                h.wake_after(0.05)
            else:
                del h.dying[info.id]
        cached = h.info.get(info.id)
        if cached is None or cached.state != info.state:
            full = await rt.inspect(info.id)
            if full is None:
                continue
            h.info[info.id] = full
        known = h.info[info.id]
        if known.exited and known.termination_message is None:
            # Once per dead instance (it may have been seen exiting right at its start).
            spec = specs.get(known.container_name)
            h.info[info.id] = await with_termination_message(h, spec, known)
        seen.add(info.id)
        by_name[info.container_name].append(h.info[info.id])
    if h.sandbox is not None:
        seen.add(h.sandbox.id)
    for cid in [c for c in h.info if c not in seen]:
        del h.info[cid]
    wanted = {c["name"] for c in containers}
    for name, infos in by_name.items():
        infos.sort(key=lambda i: (i.restart_count, i.created_at or ""))
        if name not in wanted:
            for info in infos:
                await h.remove_instance(info)
            continue
        for old in infos[:-2]:
            await h.remove_instance(old)
    for c in containers:
        track = h.tracks.setdefault(c["name"], ContainerTrack(c["name"]))
        infos = by_name.get(c["name"], [])
        track.current = infos[-1] if infos else None
        track.previous = infos[-2] if len(infos) >= 2 else None


async def _refresh_sandbox(h: PodHandle, sandboxes: list[ContainerInfo]) -> None:
    """The pod's sandbox: the newest one the runtime lists (inspected, for its state and
    address), or None; older ones are removed."""
    sandboxes.sort(key=lambda i: i.created_at or "")
    for old in sandboxes[:-1]:
        await h.remove_instance(old)
    if not sandboxes:
        h.sandbox = None
        return
    newest = sandboxes[-1]
    cached = h.info.get(newest.id)
    if cached is None or cached.state != newest.state:
        full = await h.ctx.runtime.inspect(newest.id)
        if full is None:
            h.sandbox = None
            return
        h.info[newest.id] = cached = full
    h.sandbox = cached
