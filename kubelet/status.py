"""Pod status from what the runtime and the probes say: container statuses, phase and
conditions, computed the way the Kubernetes kubelet does. Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kubelet.runtime.base import ContainerInfo
from kubelet.timeutil import to_rfc3339


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
    if info.error:
        state["message"] = info.error
    return {k: v for k, v in state.items() if v is not None}


def container_status(view: ContainerView, runtime: str) -> dict[str, Any]:
    """One entry of ``status.containerStatuses`` (all fields the Python client requires)."""
    cur = view.current
    status: dict[str, Any] = {
        "name": view.name,
        "image": view.image,
        "imageID": (cur.image_id if cur else "") or "",
        "ready": bool(view.ready and cur is not None and cur.running),
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
        state = {"waiting": {"reason": "ContainerCreating"}}
    status["state"] = state
    status["lastState"] = last
    return status


def pod_phase(statuses: list[dict[str, Any]], restart_policy: str) -> str:
    """The pod phase from its container statuses (Kubernetes' ``getPhase``)."""
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
    ctype: str, ok: bool, previous: dict[str, dict[str, Any]], now: str, reason: str = ""
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
    return cond


def pod_status(
    pod: dict[str, Any],
    views: list[ContainerView],
    *,
    runtime: str,
    host_ip: str,
    now: str,
) -> dict[str, Any]:
    """The full ``status`` the kubelet writes for ``pod``."""
    old = pod.get("status") or {}
    previous = {c.get("type", ""): c for c in old.get("conditions") or []}
    statuses = [container_status(v, runtime) for v in views]
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    phase = pod_phase(statuses, policy)
    all_ready = bool(statuses) and all(s["ready"] for s in statuses)
    if phase in ("Succeeded", "Failed"):
        all_ready = False
    not_ready_reason = "PodCompleted" if phase in ("Succeeded", "Failed") else "ContainersNotReady"
    conditions = [
        _condition("PodScheduled", True, previous, now),
        _condition("Initialized", True, previous, now),
        _condition("ContainersReady", all_ready, previous, now, not_ready_reason),
        _condition("Ready", all_ready, previous, now, not_ready_reason),
    ]
    status: dict[str, Any] = {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": host_ip,
        "podIPs": [{"ip": host_ip}],
        "startTime": old.get("startTime") or now,
        "containerStatuses": statuses,
        "qosClass": old.get("qosClass") or qos_class(pod),
    }
    return status


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
