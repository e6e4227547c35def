"""Container lifecycle hooks, as the Kubernetes kubelet runs them: ``postStart`` right
after a container starts (if it fails, the container is killed and restarted as its
restart policy says), ``preStop`` before a container is stopped, within its grace period
(whatever the hook leaves of it, at least 2 s, goes to SIGTERM before SIGKILL).

A hook is ``exec`` (run in the container), ``httpGet`` (like a probe's, through the
published port) or ``sleep``; a failure is a ``FailedPostStartHook`` /
``FailedPreStopHook`` event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from client.events import WARNING
from kubelet.podhandle import PodHandle
from kubelet.probes import run_probe
from kubelet.probing import probe_target
from kubelet.runtime.base import RuntimeError_

log = logging.getLogger(__name__)

POST_START_TIMEOUT = 30.0  # the worker waits for a postStart hook this long at most
MIN_GRACE_AFTER_PRE_STOP = 2.0  # Kubernetes' minimum grace after a preStop hook


def hook(c: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """The container's ``lifecycle.<name>`` handler, if it has one."""
    handler = ((c or {}).get("lifecycle") or {}).get(name)
    return handler if isinstance(handler, dict) and handler else None


async def run_hook(
    h: PodHandle, c: dict[str, Any], handler: dict[str, Any], container_id: str, timeout: float
) -> str | None:
    """Run one handler; its error message, or None when it succeeded."""
    if "sleep" in handler:
        await asyncio.sleep(min(float((handler["sleep"] or {}).get("seconds") or 0), timeout))
        return None
    spec = {**handler, "timeoutSeconds": max(1.0, timeout)}
    try:
        outcome = await asyncio.wait_for(
            run_probe(spec, h.ctx.runtime, container_id, probe_target(h, c)), timeout + 1
        )
    except TimeoutError:
        return f"the hook ran past {timeout:g}s"
    return None if outcome.ok else outcome.message or "the hook failed"


async def post_start(h: PodHandle, c: dict[str, Any], container_id: str) -> bool:
    """Run ``postStart``; False when it failed and the container was killed."""
    handler = hook(c, "postStart")
    if handler is None:
        return True
    error = await run_hook(h, c, handler, container_id, POST_START_TIMEOUT)
    if error is None:
        return True
    h.event(WARNING, "FailedPostStartHook", f"PostStartHook failed: {error}", c)
    try:
        await h.ctx.runtime.stop(container_id, MIN_GRACE_AFTER_PRE_STOP)
    except RuntimeError_ as e:
        log.warning("pod %s: stopping %s after its postStart hook failed: %s", h.key, c["name"], e)
    return False


async def stop_container(
    h: PodHandle, c: dict[str, Any] | None, container_id: str, grace: float
) -> None:
    """``preStop`` within ``grace``, then SIGTERM and SIGKILL after what is left of it."""
    handler = hook(c, "preStop")
    if handler is not None and c is not None and grace > 0:
        began = time.monotonic()
        error = await run_hook(h, c, handler, container_id, grace)
        if error is not None:
            h.event(WARNING, "FailedPreStopHook", f"PreStopHook failed: {error}", c)
        grace = max(MIN_GRACE_AFTER_PRE_STOP, grace - (time.monotonic() - began))
    await h.ctx.runtime.stop(container_id, grace)
