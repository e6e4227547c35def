"""What one sync of a pod decides, as a value: the Kubernetes kubelet's ``computePodActions``.

``compute_pod_actions`` takes an immutable ``PodView`` (the pod's spec and deletion state,
the runtime's newest instance of each container, each container's crash-loop backoff and
probe results, and the backoff clock) and returns ``PodActions``: the pod to terminate
(which instances to stop, with what grace), or the init container to run next and, for
each container it concerns, one step (kill it and why, keep it running, start or create an
instance, wait out a crash-loop backoff until when, leave it finished), or nothing because
the pod is finished. It does no I/O; ``kubelet.executor`` carries the actions out (the
kubelet's ``SyncPod``), as ``controllers/actions.py`` does for the controllers.

Pulling the image is not planned here: whether it is needed depends on what the engine
holds, which only the executor asks (``images.ensure_image``, called by ``launch`` when it
creates an instance), as in the kubelet, where ``SyncPod``'s ``startContainer`` pulls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubelet.backoff import BackoffEntry, CrashLoopRule
from kubelet.containers import spec_hash
from kubelet.initcontainers import InitStep, next_init_step
from kubelet.probes import LIVENESS, STARTUP
from kubelet.runtime.base import LABEL_CONTAINER_HASH, ContainerInfo
from kubelet.status import PodFailure
from kubelet.timeutil import seconds_between

TERMINAL = ("Succeeded", "Failed")


# -- the view ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProbeResult:
    """What one probe of a container's current instance says now."""

    kind: str  # probes.LIVENESS, READINESS or STARTUP
    ok: bool
    failures: int = 0
    failure_threshold: int = 3


@dataclass(frozen=True)
class ObservedContainer:
    """What is known about one container of the pod (by name)."""

    current: ContainerInfo | None = None  # the runtime's newest instance
    probes: tuple[ProbeResult, ...] = ()  # of ``current``, when it runs
    backoff: BackoffEntry | None = None  # its restart backoff, as last recorded
    backoff_event_for: str = ""  # the death whose BackOff event was already recorded


@dataclass(frozen=True)
class PodView:
    """Everything one sync decides from."""

    pod: Mapping[str, Any]  # metadata (deletion state, name, uid) and spec
    now: float  # the backoff clock
    observed: Mapping[str, ObservedContainer]  # init and app containers, by name
    rule: CrashLoopRule = CrashLoopRule()
    api_deleted: bool = False  # the API object is gone
    phase: str = "Pending"  # the phase last reported
    ports_published: bool = True  # host ports were picked for this pod
    # The node's pod network: "on" (it has a podCIDR), "pending" (one may still come) or
    # "off" (pods run on the node's address); and the pod's sandbox, if it has one.
    pod_network: str = "off"
    sandbox: ContainerInfo | None = None
    # Every instance the runtime lists for the pod (any name): only for terminating.
    instances: tuple[ContainerInfo, ...] = ()
    # The kubelet failed the pod on this node (a GPU it holds broke): stop everything,
    # report Failed with this reason, run nothing again; its controller replaces it.
    failure: PodFailure | None = None


# -- the actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Kill:
    """Stop the running instance (SIGTERM, grace, SIGKILL); the next sync restarts it."""

    name: str
    container_id: str
    message: str  # the Killing event: why
    grace: float


@dataclass(frozen=True)
class KeepRunning:
    """The instance runs as it should; an app container's probes keep running."""

    name: str
    probes: bool


@dataclass(frozen=True)
class StartCreated:
    """Start an instance that was created but never started (the kubelet stopped between)."""

    name: str
    container_id: str
    init: bool


@dataclass(frozen=True)
class Create:
    """Create and start a new instance (pulling its image first if its policy says so)."""

    name: str
    init: bool
    restart_count: int
    backoff: BackoffEntry | None = None  # a restart: the death it counted, to record


@dataclass(frozen=True)
class CrashLoopBackOff:
    """The container died and may restart only at ``until``: wait, showing why."""

    name: str
    death_id: str
    until: float
    backoff: BackoffEntry  # to record (the same entry on every sync of one death)
    message: str  # the waiting state's message
    event: str | None  # the BackOff event, once per death (None: already recorded)


@dataclass(frozen=True)
class Completed:
    """The instance exited and its restart policy says it stays so."""

    name: str


ContainerStep = Kill | KeepRunning | StartCreated | Create | CrashLoopBackOff | Completed


@dataclass(frozen=True)
class StopInstance:
    """One running instance to stop while terminating the pod."""

    container_id: str
    container_name: str
    message: str


@dataclass(frozen=True)
class Termination:
    """End the pod on this node: stop the running instances, remove every instance, then
    complete the deletion in the API unless the object is gone already."""

    grace: float
    stop: tuple[StopInstance, ...]
    remove: tuple[ContainerInfo, ...]
    finish_deletion: bool
    # Once the containers stopped, write their terminated states (so no container is ready,
    # Ready and ContainersReady False) before the deletion completes, as the Kubernetes
    # kubelet's SyncTerminatingPod does: the pod reports how it ended before it goes. While
    # they stop, readiness stays as it was (Kubernetes: a terminating pod is still
    # `serving`). Not when the object is gone, nothing ran, or its status is final.
    report_stopped: bool = False


@dataclass(frozen=True)
class SandboxStep:
    """Before any container: make the pod's sandbox ("create"), replace a dead one
    ("recreate": the containers in its network namespace are killed), or wait for the
    node's pod network ("wait")."""

    action: str
    message: str = ""


@dataclass(frozen=True)
class PodActions:
    """The plan of one sync."""

    terminate: Termination | None = None
    finished: bool = False  # the reported phase is terminal: run nothing more
    failed: PodFailure | None = None  # stop the steps' containers, then report Failed
    publish_ports: bool = False  # pick and record the pod's host ports first
    sandbox: SandboxStep | None = None
    own_ip: bool = False  # the pod has (or is about to get) its own address
    init: InitStep = InitStep()
    steps: tuple[ContainerStep, ...] = ()  # spec order

    @property
    def kills(self) -> list[Kill]:
        return [s for s in self.steps if isinstance(s, Kill)]

    @property
    def creates(self) -> list[Create]:
        return [s for s in self.steps if isinstance(s, Create)]

    @property
    def wait_until(self) -> float | None:
        """The earliest crash-loop backoff's end (None: no container waits)."""
        waits = [s.until for s in self.steps if isinstance(s, CrashLoopBackOff)]
        return min(waits) if waits else None

    def step_for(self, name: str) -> ContainerStep | None:
        return next((s for s in self.steps if s.name == name), None)


# -- the decisions -------------------------------------------------------------------------


def terminating(pod: Mapping[str, Any], api_deleted: bool) -> bool:
    """The pod is being deleted (or already gone from the API): end it on this node."""
    return api_deleted or bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def grace_seconds(pod: Mapping[str, Any]) -> float:
    """Seconds between SIGTERM and SIGKILL: the deletion's grace period when the pod is
    being deleted, else the spec's terminationGracePeriodSeconds (30 when unset)."""
    meta = pod.get("metadata") or {}
    if meta.get("deletionGracePeriodSeconds") is not None:
        return float(meta["deletionGracePeriodSeconds"])
    value = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
    return float(30 if value is None else value)


def restart_policy_for(pod_policy: str, init: bool) -> str:
    """An init container that succeeded is done whatever the pod's policy: Always acts
    as OnFailure for it (Kubernetes' rule)."""
    if init and pod_policy == "Always":
        return "OnFailure"
    return pod_policy


def probe_failure(probes: tuple[ProbeResult, ...]) -> str | None:
    """Which probe says restart: liveness failed, or startup failed past its threshold
    (None: neither)."""
    by_kind = {p.kind: p for p in probes}
    live = by_kind.get(LIVENESS)
    startup = by_kind.get(STARTUP)
    if not (live is not None and not live.ok) and not (
        startup is not None and not startup.ok and startup.failures >= startup.failure_threshold
    ):
        return None
    return STARTUP if startup is not None and not startup.ok else LIVENESS


def compute_pod_actions(view: PodView) -> PodActions:
    """The actions of one sync: terminate, or nothing more (finished), or the next init
    container's step, or one step for each app container."""
    if terminating(view.pod, view.api_deleted):
        return PodActions(terminate=_termination(view))
    if view.phase in TERMINAL:
        return PodActions(finished=True)
    if view.failure is not None:
        # Every running container stops, with the pod's grace; the status then says Failed.
        grace = grace_seconds(view.pod)
        kills = tuple(
            Kill(name, o.current.id, view.failure.message, grace)
            for name, o in view.observed.items()
            if o.current is not None and o.current.running
        )
        return PodActions(steps=kills, failed=view.failure)
    spec = view.pod.get("spec") or {}
    inits: list[dict[str, Any]] = list(spec.get("initContainers") or [])
    apps: list[dict[str, Any]] = list(spec.get("containers") or [])
    policy = str(spec.get("restartPolicy") or "Always")
    sandbox = sandbox_step(view)
    if sandbox is not None and sandbox.action == "wait":
        return PodActions(sandbox=sandbox)
    if sandbox is not None and sandbox.action == "recreate":
        grace = grace_seconds(view.pod)
        kills = tuple(
            Kill(name, o.current.id, sandbox.message, grace)
            for name, o in view.observed.items()
            if o.current is not None and o.current.running
        )
        return PodActions(sandbox=sandbox, own_ip=True, steps=kills)
    own_ip = view.sandbox is not None or sandbox is not None
    init = next_init_step(
        [c["name"] for c in inits],
        {c["name"]: _observed(view, c["name"]).current for c in inits},
        app_started=any(_observed(view, c["name"]).current is not None for c in apps),
        restart_policy=policy,
    )
    steps: tuple[ContainerStep, ...] = ()
    if init.container is not None:
        c = next(c for c in inits if c["name"] == init.container)
        steps = (_container_step(view, c, policy, init=True),)
    elif init.initialized:
        steps = tuple(_container_step(view, c, policy, init=False) for c in apps)
    # A failed init container under restartPolicy Never: nothing to start; the status
    # the executor writes says Failed.
    return PodActions(
        publish_ports=not view.ports_published,
        sandbox=sandbox,
        own_ip=own_ip,
        init=init,
        steps=steps,
    )


def sandbox_step(view: PodView) -> SandboxStep | None:
    """What the pod's sandbox needs before its containers run (None: nothing). A pod on
    the host network has none; so has a pod whose containers already run without one
    (started before the node had a pod network): it stays on the node's address."""
    if (view.pod.get("spec") or {}).get("hostNetwork") is True:
        return None
    if view.sandbox is not None:
        if view.sandbox.running:
            return None
        return SandboxStep("recreate", "Pod sandbox changed, it will be killed and re-created.")
    if any(o.current is not None for o in view.observed.values()):
        return None
    if view.pod_network == "on":
        return SandboxStep("create")
    if view.pod_network == "pending":
        return SandboxStep("wait", "network is not ready: the node has no podCIDR yet")
    return None


def _observed(view: PodView, name: str) -> ObservedContainer:
    return view.observed.get(name) or ObservedContainer()


def _container_step(
    view: PodView, c: Mapping[str, Any], pod_policy: str, init: bool
) -> ContainerStep:
    """One step towards ``c`` running (or finished, as its restart policy says)."""
    name = str(c["name"])
    obs = _observed(view, name)
    cur = obs.current
    if cur is not None and cur.running:
        if cur.labels.get(LABEL_CONTAINER_HASH) != spec_hash(dict(c)):
            message = f"Container {name} definition changed, will be restarted"
            return Kill(name, cur.id, message, grace_seconds(view.pod))
        if init:
            return KeepRunning(name, probes=False)  # init containers have no probes
        kind = probe_failure(obs.probes)
        if kind is not None:
            message = f"Container {name} failed {kind} probe, will be restarted"
            return Kill(name, cur.id, message, grace_seconds(view.pod))
        return KeepRunning(name, probes=True)
    if cur is not None and cur.state == "created":
        return StartCreated(name, cur.id, init)
    if cur is not None and cur.exited:
        policy = restart_policy_for(pod_policy, init)
        if policy == "Never" or (policy == "OnFailure" and (cur.exit_code or 0) == 0):
            return Completed(name)
        ran = seconds_between(cur.started_at, cur.finished_at)
        entry = view.rule.after(obs.backoff, cur.id, ran, view.now)
        if entry.restart_at > view.now:
            return _crash_loop(view, name, cur, obs, entry)
        return Create(name, init, cur.restart_count + 1, backoff=entry)
    return Create(name, init, 0)


def _crash_loop(
    view: PodView, name: str, cur: ContainerInfo, obs: ObservedContainer, entry: BackoffEntry
) -> CrashLoopBackOff:
    meta = view.pod.get("metadata") or {}
    pod = f"{meta.get('name', '')}_{meta.get('namespace') or 'default'}({meta.get('uid', '')})"
    message = f"back-off {entry.delay:g}s restarting failed container={name} pod={pod}"
    event = None
    if obs.backoff_event_for != cur.id:
        event = f"Back-off restarting failed container {name} in pod {pod}"
    return CrashLoopBackOff(name, cur.id, entry.restart_at, entry, message, event)


def _termination(view: PodView) -> Termination:
    # The sandbox is no container of the spec: it is not stopped with an event, only
    # removed, after the containers that share its network.
    stop = tuple(
        StopInstance(i.id, i.container_name, f"Stopping container {i.container_name}")
        for i in view.instances
        if i.state == "running" and not i.sandbox
    )
    return Termination(
        grace=grace_seconds(view.pod),
        stop=stop,
        remove=tuple(sorted(view.instances, key=lambda i: i.sandbox)),
        finish_deletion=not view.api_deleted,
        report_stopped=bool(stop) and not view.api_deleted and view.phase not in TERMINAL,
    )
