"""Starting a container instance: published ports, the resolved runtime spec (env,
volumes, GPUs), create and start, with the events Kubernetes records."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from api.errors import ApiError
from client.events import NORMAL, WARNING
from kubelet import containers as cspec
from kubelet.envvars import EnvError, referenced_config, resolve_env
from kubelet.images import ensure_image
from kubelet.lifecycle import post_start
from kubelet.podhandle import PodHandle
from kubelet.podspec_runtime import check_image_user, needs_image_user
from kubelet.probing import ensure_probes
from kubelet.resolvconf import resolv_conf_mount
from kubelet.runtime.base import ContainerSpec, Mount, RuntimeError_
from kubelet.termination_message import with_termination_message
from kubelet.track import ContainerTrack
from kubelet.volume_projected import TokenUnavailable, pod_tokens
from kubelet.volume_pvc import resolve_claims
from kubelet.volumes import (
    TERMINATION_LOG,
    MissingVolumeSource,
    TokenFetchFailed,
    VolumeError,
    container_mounts,
    make_termination_log,
    prepare_volumes,
    read_only_volumes,
)

log = logging.getLogger(__name__)


async def publish_ports(h: PodHandle) -> None:
    """Pick the pod's host ports once and record them on the pod (annotation), so
    endpoints and a restarted kubelet see the same ports."""
    plan = cspec.plan_ports(h.pod, h.ctx.address, h.ctx.host_ports_in_use)
    h.host_ports = plan
    h.ctx.host_ports_in_use.update(plan.values())
    if not plan:
        return
    value = json.dumps(plan, sort_keys=True, separators=(",", ":"))
    annotations = (h.pod.get("metadata") or {}).get("annotations") or {}
    if annotations.get(cspec.HOST_PORTS_ANNOTATION) == value:
        return
    patch = {"metadata": {"annotations": {cspec.HOST_PORTS_ANNOTATION: value}}}
    try:
        h.pod = await h.ctx.client.patch("pods", h.name, patch, h.namespace)
    except ApiError as e:
        log.warning("pod %s: cannot record host ports: %s", h.key, e)


async def create_and_start(
    h: PodHandle, c: dict[str, Any], track: ContainerTrack, restarts: int, init: bool = False
) -> None:
    """Pull if needed, create and start a new instance of ``c``."""
    if not await ensure_image(h, c, track):
        return
    try:
        spec = await build_spec(h, c, restarts, init)
    except MissingVolumeSource as e:
        # As the Kubernetes kubelet: the volumes are not mounted, so no container is made
        # yet; the pod keeps waiting (and retrying) until the object exists.
        track.waiting_reason = "PodInitializing" if init else "ContainerCreating"
        track.waiting_message = str(e)
        if track.failed_event_for != str(e):
            track.failed_event_for = str(e)
            h.event(WARNING, "FailedMount", str(e))
        h.wake_after(min(getattr(e, "retry_after", 5.0), h.ctx.config.backoff_initial))
        return
    except (EnvError, VolumeError, ValueError) as e:
        track.waiting_reason = "CreateContainerConfigError"
        track.waiting_message = str(e)
        if track.failed_event_for != str(e):
            track.failed_event_for = str(e)
            h.event(WARNING, "Failed", f"Error: {e}", c)
        h.wake_after(min(5.0, h.ctx.config.backoff_initial))
        return
    track.failed_event_for = ""
    try:
        cid = await h.ctx.runtime.create(spec)
    except RuntimeError_ as e:
        track.waiting_reason = "CreateContainerError"
        track.waiting_message = str(e)
        h.event(WARNING, "Failed", f"Error: {e}", c)
        h.wake_after(min(5.0, h.ctx.config.backoff_initial))
        return
    h.event(NORMAL, "Created", f"Created container {c['name']}", c)
    await start(h, c, track, cid, probes=not init)


async def start(
    h: PodHandle, c: dict[str, Any], track: ContainerTrack, cid: str, probes: bool = True
) -> None:
    """Start a created instance and make it the container's ``current`` one."""
    try:
        await h.ctx.runtime.start(cid)
    except RuntimeError_ as e:
        # The dead instance stays, so its error shows as lastState and backoff applies.
        h.event(WARNING, "Failed", f"Error: {e}", c)
        h.wake()
        return
    h.event(NORMAL, "Started", f"Started container {c['name']}", c)
    if not await post_start(h, c, cid):
        h.wake()  # killed: the next sync restarts it as the restart policy says
    info = await h.ctx.runtime.inspect(cid)
    if info is not None and info.exited:
        info = await with_termination_message(h, c, info)  # it ended at once
    if info is not None:
        h.info[cid] = info
        if track.current is not None and track.current.id != cid:
            # Keep one dead instance (for lastState and `logs --previous`), no more.
            if track.previous is not None:
                await h.remove_instance(track.previous)
            track.previous = track.current
        track.current = info
    track.waiting_reason = None
    track.probes = {}
    if info is not None and info.running:
        if probes:
            ensure_probes(h, c, track)
    else:
        h.wake()


async def build_spec(
    h: PodHandle, c: dict[str, Any], restarts: int, init: bool = False
) -> ContainerSpec:
    """The runtime spec of one instance: env and volumes resolved from the API now."""
    cm_names, secret_names = referenced_config(h.pod)
    configmaps = {n: await get_optional(h, "configmaps", n) for n in cm_names}
    secrets = {n: await get_optional(h, "secrets", n) for n in secret_names}
    claim_paths = await resolve_claims(h)
    try:
        tokens = await pod_tokens(h.ctx.client, h.pod, h.tokens)
    except TokenUnavailable as e:
        raise TokenFetchFailed(e.volume, e.why) from e
    volume_paths = await asyncio.to_thread(
        prepare_volumes, h.ctx.config.root_dir, h.pod, configmaps, secrets, claim_paths, tokens
    )
    env = resolve_env(h.pod, c, configmaps, secrets, h.ctx.address, service_env(h), pod_ip=h.pod_ip)
    mounts = container_mounts(c, volume_paths, read_only_volumes(h.pod))
    mounts += await resolv_conf_mount(h, mounts)
    message_file = await asyncio.to_thread(
        make_termination_log, h.ctx.config.root_dir, h.uid, c["name"], restarts
    )
    if needs_image_user(h.pod, c):
        check_image_user(await h.ctx.runtime.image_user(c["image"]), h.name, c["name"])
    return cspec.build_spec(
        node=h.ctx.node_name,
        address=h.ctx.address,
        pod=h.pod,
        container=c,
        restart_count=restarts,
        env=env,
        mounts=mounts,
        host_ports=h.host_ports or {},
        real_gpus=h.ctx.config.real_gpus,
        init=init,
        cluster=h.ctx.cluster_uid,
        cluster_domain=h.ctx.config.cluster_domain,
        network_of=h.sandbox.id if h.sandbox is not None else None,
        termination_log=Mount(
            str(message_file), c.get("terminationMessagePath") or TERMINATION_LOG
        ),
    )


def service_env(h: PodHandle) -> dict[str, str]:
    """Service environment variables (``<NAME>_SERVICE_HOST``); filled in by the service
    proxy when it exists (issue 8)."""
    provider = getattr(h.ctx, "service_env", None)
    return dict(provider(h.namespace)) if callable(provider) else {}


async def get_optional(h: PodHandle, resource: str, name: str) -> dict[str, Any] | None:
    """A ConfigMap or Secret of the pod's namespace, None when it does not exist."""
    try:
        return await h.ctx.client.get(resource, name, h.namespace)
    except ApiError as e:
        if e.code == 404:
            return None
        raise
