"""Carrying out a pod's sandbox step (``plan.SandboxStep``): wait for the node's pod
network, or make the pod's sandbox (replacing a dead one), with the events Kubernetes
records. What to do is the plan's; the names and specs are ``podnet``'s."""

from __future__ import annotations

import logging

from client.events import NORMAL, WARNING
from kubelet.plan import TERMINAL, SandboxStep
from kubelet.podhandle import PodHandle
from kubelet.podnet import CIDR_RECHECK_SECONDS, sandbox_spec
from kubelet.runtime.base import RuntimeError_
from kubelet.track import ContainerTrack

log = logging.getLogger(__name__)


def _waiting(h: PodHandle, message: str) -> None:
    """Every container of the pod waits (ContainerCreating) for the reason given."""
    for c in h.init_containers() + h.app_containers():
        track = h.tracks.setdefault(c["name"], ContainerTrack(c["name"]))
        track.waiting_reason = "ContainerCreating"
        track.waiting_message = message
    h.sandbox_waiting = message


def clear_waiting(h: PodHandle) -> None:
    """The sandbox step is over: the containers' waiting state is theirs again (an app
    container behind a failing init container shows PodInitializing, not the network)."""
    if not h.sandbox_waiting:
        return
    for track in h.tracks.values():
        if track.waiting_message == h.sandbox_waiting:
            track.waiting_reason = None
            track.waiting_message = ""
    h.sandbox_waiting = ""


async def run_sandbox(h: PodHandle, step: SandboxStep) -> bool:
    """True when the pod's sandbox runs with an address, so its containers may start."""
    podnet = h.ctx.podnet
    if step.action == "wait" or podnet is None:
        _waiting(h, step.message)
        h.wake_after(CIDR_RECHECK_SECONDS)
        return False
    rt = h.ctx.runtime
    if h.sandbox is not None:
        h.event(NORMAL, "SandboxChanged", step.message)
        await h.remove_instance(h.sandbox)
        h.sandbox = None
    cid = ""
    try:
        network = await podnet.prepare(rt, h.ctx.cluster_uid)
        spec = sandbox_spec(
            node=h.ctx.node_name,
            cluster=h.ctx.cluster_uid,
            pod=h.pod,
            network=network,
            image=podnet.sandbox_image,
            address=h.ctx.address,
        )
        cid = await rt.create(spec)
        await rt.start(cid)
        info = await rt.inspect(cid)
        if info is None or not info.running or not info.ip:
            why = (info.error if info is not None else "") or "it has no address"
            raise RuntimeError_(f"sandbox {spec.name} did not start: {why}")
    except (RuntimeError_, ValueError) as e:
        # Checked again next time: the network may have been removed under us.
        podnet.forget_prepared()
        message = f"Failed to create pod sandbox: {e}"
        log.warning("pod %s: %s", h.key, message)
        if cid:
            await rt.remove(cid)
        _waiting(h, message)
        if h.sandbox_failure != message:  # one event per distinct failure
            h.sandbox_failure = message
            h.event(WARNING, "FailedCreatePodSandBox", message)
        h.wake_after(min(5.0, h.ctx.config.backoff_initial))
        return False
    h.info[cid] = info
    h.sandbox = info
    h.sandbox_failure = ""
    return True


async def release_sandbox(h: PodHandle) -> None:
    """A finished pod (Succeeded or Failed, as last written) needs its sandbox no more: it
    goes, freeing its address (a node's /24 would otherwise fill up with finished Job
    pods); the status keeps the pod IP it had, as Kubernetes' does."""
    if h.sandbox is None or h.phase() not in TERMINAL:
        return
    await h.remove_instance(h.sandbox)
    h.sandbox = None
