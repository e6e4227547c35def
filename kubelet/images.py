"""Making sure a container's image is on the node, per ``imagePullPolicy``: ErrImagePull,
then ImagePullBackOff with a growing wait, as the Kubernetes kubelet does."""

from __future__ import annotations

import time
from typing import Any

from client.events import NORMAL, WARNING
from kubelet.podhandle import PodHandle
from kubelet.runtime.base import ImagePullError
from kubelet.track import ContainerTrack


def default_pull_policy(image: str) -> str:
    """Always for ``:latest`` or an untagged image, else IfNotPresent (Kubernetes' rule)."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


async def ensure_image(h: PodHandle, c: dict[str, Any], track: ContainerTrack) -> bool:
    """True when the image is present (pulled now if the policy says so); False while it
    cannot be had, with the waiting reason set and a wake-up planned."""
    image = c.get("image", "")
    policy = c.get("imagePullPolicy") or default_pull_policy(image)
    rt = h.ctx.runtime
    present = await rt.image_present(image)
    if policy == "Never" or (policy == "IfNotPresent" and present):
        if not present:
            track.waiting_reason = "ErrImageNeverPull"
            track.waiting_message = (
                f'Container image "{image}" is not present with pull policy of Never'
            )
            h.wake_after(h.ctx.config.backoff_initial)
            return False
        if track.pull_attempt == 0 or track.pull_error:
            h.event(NORMAL, "Pulled", f'Container image "{image}" already present on machine', c)
        track.pull_error = ""
        track.pull_attempt += 1
        return True
    key = f"{h.uid}/{c['name']}/pull"
    if track.pull_error:
        wait = h.ctx.pull_backoff.remaining(key, str(track.pull_attempt))
        if wait > 0:
            track.waiting_reason = "ImagePullBackOff"
            track.waiting_message = (
                f'Back-off pulling image "{image}": ErrImagePull: {track.pull_error}'
            )
            if track.backoff_event_for != f"pull-{track.pull_attempt}":
                track.backoff_event_for = f"pull-{track.pull_attempt}"
                h.event(NORMAL, "BackOff", f'Back-off pulling image "{image}"', c)
            h.wake_after(wait)
            return False
    h.event(NORMAL, "Pulling", f'Pulling image "{image}"', c)
    began = time.monotonic()
    try:
        await rt.pull(image)
    except ImagePullError as e:
        track.pull_attempt += 1
        track.pull_error = str(e)
        track.waiting_reason = "ErrImagePull"
        track.waiting_message = str(e)
        h.event(WARNING, "Failed", f'Failed to pull image "{image}": {e}', c)
        h.event(WARNING, "Failed", "Error: ErrImagePull", c)
        # Start the backoff clock for this attempt now; a resync halfway through the
        # wait shows ImagePullBackOff, as the real kubelet's periodic sync does.
        wait = h.ctx.pull_backoff.remaining(key, str(track.pull_attempt))
        h.wake_after(min(h.ctx.config.resync_period, wait / 2))
        return False
    track.pull_attempt += 1
    track.pull_error = ""
    h.ctx.pull_backoff.reset(key)
    h.event(
        NORMAL,
        "Pulled",
        f'Successfully pulled image "{image}" in {time.monotonic() - began:.3f}s',
        c,
    )
    return True
