"""Ending a pod on this node, as its plan says (``plan.Termination``): stop the running
containers (SIGTERM, grace, SIGKILL), report how they ended, remove every instance,
complete the deletion in the API, then free its volumes, ports and backoffs."""

from __future__ import annotations

import asyncio
import logging

from api.errors import ApiError
from client import ServerUnreachable
from client.events import NORMAL
from kubelet.lifecycle import stop_container
from kubelet.plan import Termination
from kubelet.podhandle import PodHandle
from kubelet.runtime.base import RuntimeError_
from kubelet.status_writer import write_status
from kubelet.volumes import remove_pod_dir

log = logging.getLogger(__name__)


async def terminate(h: PodHandle, plan: Termination) -> None:
    """Stop and remove every container of the pod, then finish its deletion."""
    for t in h.tracks.values():
        t.stop_probes()
    specs = {c["name"]: c for c in h.init_containers() + h.app_containers()}
    for s in plan.stop:
        h.event(NORMAL, "Killing", s.message, specs.get(s.container_name))
    results = await asyncio.gather(
        *(
            stop_container(h, specs.get(s.container_name), s.container_id, plan.grace)
            for s in plan.stop
        ),
        return_exceptions=True,
    )
    for r in results:
        if isinstance(r, Exception):
            log.warning("pod %s: stop failed: %s", h.key, r)
    if plan.report_stopped and not h.deleted:
        await report_stopped(h, plan)
    # Remove the containers before the object goes: once a user sees the pod gone,
    # nothing of it is left on the node.
    for info in plan.remove:
        await h.remove_instance(info)
    # The object may have gone while the containers stopped: then there is nothing to
    # delete (and finish_deletion's DELETE would only answer 404).
    if plan.finish_deletion and not h.deleted:
        await finish_deletion(h)
    await asyncio.to_thread(remove_pod_dir, h.ctx.config.root_dir, h.uid)
    if h.host_ports:
        h.ctx.host_ports_in_use.difference_update(h.host_ports.values())
    h.ctx.restart_backoff.forget_prefix(f"{h.uid}/")
    h.ctx.pull_backoff.forget_prefix(f"{h.uid}/")


async def report_stopped(h: PodHandle, plan: Termination) -> None:
    """Write the stopped containers' terminated states (none ready, so Ready=False) before
    the object goes. A failed write only logs: the deletion must not wait on it."""
    try:
        known = False  # a worker that never saw the containers (a kubelet restart) has
        for s in plan.stop:  # no tracks of them: it would report them never started
            track = h.tracks.get(s.container_name)
            if track is None or track.current is None or track.current.id != s.container_id:
                continue
            info = await h.ctx.runtime.inspect(s.container_id)
            if info is not None:
                track.current, known = info, True
        if known:
            await write_status(h, deleting=True)
    except (ApiError, ServerUnreachable, RuntimeError_) as e:
        log.warning("pod %s: reporting its stopped containers failed: %s", h.key, e)


async def finish_deletion(h: PodHandle) -> None:
    """DELETE with gracePeriodSeconds=0, but only our pod: a pod of the same name made
    since (another uid) is left alone."""
    try:
        current = await h.ctx.client.get("pods", h.name, h.namespace)
        if (current.get("metadata") or {}).get("uid") != h.uid:
            return
        await h.ctx.client.delete("pods", h.name, h.namespace, grace_period_seconds=0)
    except ApiError as e:
        if e.code != 404:
            raise
