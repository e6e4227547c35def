"""Pod status from what the runtime and the probes say: container statuses, phase and
conditions, computed the way the Kubernetes kubelet does. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubelet.initcontainers import succeeded
from kubelet.runtime.base import ContainerInfo
from kubelet.timeutil import to_rfc3339


@dataclass(frozen=True)
class PodFailure:
    """Why the kubelet failed a pod it ran (``status.reason`` and ``status.message``, as
    for an evicted pod): nothing of it runs again, its controller replaces it."""

    reason: str
    message: str


@dataclass
class ContainerView:
    """Everything the status needs to know about one container of the pod."""

    name: str
    image: str  # as in the spec
    current: ContainerInfo | None = None  # the latest instance (running or dead)
    previous: ContainerInfo | None = None  # the instance before it, for lastState
    restart_count: int = 0
    waiting_reason: str | None = None  # set while no instance runs: ErrImagePull, ...
    waiting_message: str = ""
    ready: bool = False
    started: bool = False
    init: bool = False  # an init container: ready means it ran to a zero exit


def runtime_id(runtime: str, container_id: str) -> str:
    return f"{runtime}://{container_id}"


def terminated_state(info: ContainerInfo, runtime: str) -> dict[str, Any]:
    """The ``terminated`` state of a dead container, with Kubernetes' reasons."""
    code = info.exit_code if info.exit_code is not None else 0
    if info.oom_killed:
        reason = "OOMKilled"
    elif code == 0:
        reason = "Completed"
    else:
        reason = "Error"
    state: dict[str, Any] = {
        "exitCode": code,
        "reason": reason,
        "startedAt": to_rfc3339(info.started_at),
        "finishedAt": to_rfc3339(info.finished_at),
        "containerID": runtime_id(runtime, info.id),
    }
    if info.termination_message or info.error:
        state["message"] = info.termination_message or info.error
    return {k: v for k, v in state.items() if v is not None}


def container_status(
    view: ContainerView, runtime: str, default_waiting: str = "ContainerCreating"
) -> dict[str, Any]:
    """One entry of ``status.containerStatuses`` or ``initContainerStatuses`` (all fields
    the Python client requires). ``default_waiting`` is the reason of a container with no
    instance yet: PodInitializing in a pod with init containers, as in Kubernetes."""
    cur = view.current
    if view.init:
        ready = succeeded(cur)
    else:
        ready = bool(view.ready and cur is not None and cur.running)
    status: dict[str, Any] = {
        "name": view.name,
        "image": view.image,
        "imageID": (cur.image_id if cur else "") or "",
        "ready": ready,
        "restartCount": int(view.restart_count),
        "started": bool(view.started and cur is not None and cur.running),
    }
    if cur is not None:
        status["containerID"] = runtime_id(runtime, cur.id)
    last: dict[str, Any] = {}
    if view.waiting_reason:
        waiting: dict[str, Any] = {"reason": view.waiting_reason}
        if view.waiting_message:
            waiting["message"] = view.waiting_message
        state: dict[str, Any] = {"waiting": waiting}
        if cur is not None and cur.exited:
            last = {"terminated": terminated_state(cur, runtime)}
        elif view.previous is not None and view.previous.exited:
            last = {"terminated": terminated_state(view.previous, runtime)}
    elif cur is not None and cur.running:
        state = {"running": {"startedAt": to_rfc3339(cur.started_at)}}
        if view.previous is not None and view.previous.exited:
            last = {"terminated": terminated_state(view.previous, runtime)}
    elif cur is not None and cur.exited:
        state = {"terminated": terminated_state(cur, runtime)}
        if view.previous is not None and view.previous.exited:
            last = {"terminated": terminated_state(view.previous, runtime)}
    else:
        state = {"waiting": {"reason": default_waiting}}
    status["state"] = state
    status["lastState"] = last
    return status


def _init_failed(s: dict[str, Any]) -> bool:
    """An init container whose last run failed (now dead, or waiting to restart)."""
    state = s.get("state") or {}
    term = state.get("terminated")
    if term is None and "waiting" in state:
        term = (s.get("lastState") or {}).get("terminated")
    return term is not None and term.get("exitCode") != 0


def pod_phase(
    statuses: list[dict[str, Any]],
    restart_policy: str,
    init_statuses: list[dict[str, Any]] | None = None,
    initialized: bool = True,
) -> str:
    """The pod phase from its container statuses (Kubernetes' ``getPhase``): Pending
    while init containers run, Failed when one failed and restartPolicy is Never."""
    if not initialized:
        failed = any(_init_failed(s) for s in init_statuses or [])
        return "Failed" if failed and restart_policy == "Never" else "Pending"
    waiting = running = stopped = succeeded = 0
    for s in statuses:
        state = s.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif "terminated" in (s.get("lastState") or {}):
            stopped += 1
        else:
            waiting += 1
    total = len(statuses)
    if total == 0 or waiting == total:
        return "Pending"
    if running > 0:
        return "Running"
    if stopped > 0:
        if restart_policy == "Always":
            return "Running"
        if waiting > 0:
            # Some containers have not run yet: not finished, whatever the others did.
            return "Running" if restart_policy == "OnFailure" else "Pending"
        if stopped == succeeded:
            return "Succeeded"
        if restart_policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _condition(
    ctype: str,
    ok: bool,
    previous: dict[str, dict[str, Any]],
    now: str,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    status = "True" if ok else "False"
    prev = previous.get(ctype)
    since = prev.get("lastTransitionTime") if prev and prev.get("status") == status else None
    cond: dict[str, Any] = {
        "type": ctype,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since or now,
    }
    if reason and not ok:
        cond["reason"] = reason
        if message:
            cond["message"] = message
    return cond


def pod_status(
    pod: dict[str, Any],
    views: list[ContainerView],
    *,
    runtime: str,
    host_ip: str,
    now: str,
    init_views: list[ContainerView] | None = None,
    pod_ip: str | None = None,
    failure: PodFailure | None = None,
    deleting: bool = False,
) -> dict[str, Any]:
    """The full ``status`` the kubelet writes for ``pod``; ``init_views`` are its init
    containers, in spec order; ``pod_ip`` is the address of its sandbox on the pod
    network ("" while it has none yet; None: a hostNetwork pod, or one on a node without
    a pod network, whose address is the node's). ``deleting``: the pod is being deleted
    and the kubelet stopped its containers: they show how they ended, and its phase stays
    the last reported, since no restart policy applies to a pod that goes next."""
    old = pod.get("status") or {}
    previous = {c.get("type", ""): c for c in old.get("conditions") or []}
    inits = init_views or []
    # Once an app container exists the pod was initialized (Kubernetes' rule), even if
    # an init container's instance has since been removed.
    incomplete = [v.name for v in inits if not succeeded(v.current)]
    initialized = not incomplete or any(v.current is not None for v in views)
    default_waiting = "PodInitializing" if inits else "ContainerCreating"
    statuses = [container_status(v, runtime, default_waiting) for v in views]
    init_statuses = [container_status(v, runtime, "PodInitializing") for v in inits]
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    phase = (
        "Failed" if failure is not None else pod_phase(statuses, policy, init_statuses, initialized)
    )
    if deleting and old.get("phase"):
        phase = str(old["phase"])
    all_ready = bool(statuses) and all(s["ready"] for s in statuses)
    if phase in ("Succeeded", "Failed"):
        all_ready = False
    not_ready_reason = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
    conditions = [
        _condition("PodScheduled", True, previous, now),
        _condition(
            "Initialized",
            initialized,
            previous,
            now,
            "ContainersNotInitialized",
            f"containers with incomplete status: [{' '.join(incomplete)}]",
        ),
        _condition("ContainersReady", all_ready, previous, now, not_ready_reason),
        _condition("Ready", all_ready, previous, now, not_ready_reason),
    ]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        **_pod_ips(host_ip if pod_ip is None else pod_ip),
        "startTime": old.get("startTime") or now,
        "containerStatuses": statuses,
        **({"initContainerStatuses": init_statuses} if inits else {}),
        "qosClass": old.get("qosClass") or qos_class(pod),
    }
    if failure is not None:  # as an evicted pod's: why the kubelet ended it
        status["reason"] = failure.reason
        status["message"] = failure.message
    return status


def _pod_ips(ip: str) -> dict[str, Any]:
    """``podIP``/``podIPs``, left out while the pod has no address (as in Kubernetes)."""
    return {"podIP": ip, "podIPs": [{"ip": ip}]} if ip else {}


def qos_class(pod: dict[str, Any]) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' requests and limits."""
    containers = (pod.get("spec") or {}).get("containers") or []
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or (r in req and str(req[r]) != str(lim[r])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def status_differs(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether writing ``new`` would change anything a reader can see (ignores key order)."""
    return _norm(old) != _norm(new)


def _norm(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value
