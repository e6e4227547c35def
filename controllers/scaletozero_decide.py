"""The scale-to-zero controller's decisions (pure): given one Deployment, the Services
that select its pods, its pods and the nodes' activity reports, which writes to make.

- Each Service of an opted-in Deployment carries the ``ACTIVATOR`` mark (its activation
  timeout: the Service's own ``ACTIVATION_TIMEOUT``, else the Deployment's, else 5
  minutes), and a Service whose mark names a Deployment that no longer opts in, or no
  longer matches, loses it: the kubelets hold connections only while the mark says so.
- At zero replicas, a connection waiting on any node scales the Deployment to 1 at once.
- Above zero, it is idle from ``max(last request on any node, the moment its last replica
  turned Ready)``; after the window it goes to 0. Never while a pod of it is not Ready (a
  model still loading its weights is not idle), nor while a connection waits, nor when
  no Service selects it (nothing could wake it again), nor when an HPA scales it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from api.scaletozero import (
    ACTIVATION_TIMEOUT,
    ACTIVATOR,
    DEFAULT_ACTIVATION_TIMEOUT,
    SCALE_TO_ZERO_AFTER,
    ActivatorMark,
    ServiceActivity,
    activator_mark,
    annotations_of,
    parse_duration,
)

from . import actions as A
from .objutil import Obj, format_time, map_selector_matches, name_of, namespace_of
from .podutil import is_active, is_ready, ready_since

WOKEN = "ScaledFromZero"
SLEPT = "ScaledToZero"


@dataclass
class Decision:
    """The writes to make and when to look again (None: on the next change only)."""

    actions: list[A.Action] = field(default_factory=list)
    requeue_after: float | None = None


@dataclass(frozen=True)
class Opt:
    """A Deployment's opt-in, read from its annotations."""

    idle_window: float
    timeout: float


def opt_in(deployment: Obj | None) -> Opt | str | None:
    """The Deployment's opt-in, None when it has none, or the message of an invalid one."""
    notes = annotations_of(deployment)
    raw = notes.get(SCALE_TO_ZERO_AFTER)
    if deployment is None or raw is None:
        return None
    try:
        window = parse_duration(raw)
        timeout = parse_duration(notes.get(ACTIVATION_TIMEOUT, str(DEFAULT_ACTIVATION_TIMEOUT)))
    except ValueError as e:
        return f"annotation {SCALE_TO_ZERO_AFTER} or {ACTIVATION_TIMEOUT}: {e}"
    return Opt(window, timeout)


def selects(svc: Obj, deployment: Obj) -> bool:
    """Whether the Service's selector selects the Deployment's pod template."""
    labels = ((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {}
    selector = (svc.get("spec") or {}).get("selector")
    return map_selector_matches(selector, dict(labels.get("labels") or {}))


def service_key(svc: Obj) -> str:
    return f"{namespace_of(svc) or 'default'}/{name_of(svc)}"


def _mark_patches(
    name: str, services: Iterable[Obj], wanted: Mapping[str, ActivatorMark]
) -> list[A.Action]:
    out = []
    for svc in services:
        have = activator_mark(svc)
        want = wanted.get(service_key(svc))
        if want == have or (want is None and (have is None or have.deployment != name)):
            continue
        value = want.encode() if want is not None else None
        body = {"metadata": {"annotations": {ACTIVATOR: value}}}
        out.append(A.patch("services", namespace_of(svc), name_of(svc), body))
    return out


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60}m{s % 60}s" if s >= 3600 else f"{s // 60}m{s % 60}s"


def decide(
    namespace: str,
    name: str,
    deployment: Obj | None,
    services: list[Obj],
    pods: list[Obj],
    reports: Iterable[Mapping[str, ServiceActivity]],
    now: float,
    autoscalers: Iterable[str] = (),
) -> Decision:
    """One step for the Deployment ``namespace/name`` (``deployment`` None: it is gone).
    ``services``: every Service of the namespace; ``pods``: the Deployment's pods;
    ``reports``: every node's ``SERVICE_ACTIVITY``; ``autoscalers``: the names of the
    HorizontalPodAutoscalers that target it."""
    out = Decision()
    opt = opt_in(deployment)
    mine = [s for s in services if deployment is not None and selects(s, deployment)]
    if not isinstance(opt, Opt):
        out.actions += _mark_patches(name, services, {})
        if isinstance(opt, str) and deployment is not None:
            out.actions.append(A.event(deployment, "Warning", "InvalidScaleToZero", opt))
        return out
    assert deployment is not None
    wanted = {}
    for svc in mine:
        own = annotations_of(svc).get(ACTIVATION_TIMEOUT)
        try:
            timeout = parse_duration(own) if own is not None else opt.timeout
        except ValueError:
            timeout = opt.timeout  # the Service's typo: the Deployment's value serves
        wanted[service_key(svc)] = ActivatorMark(name, timeout)
    out.actions += _mark_patches(name, services, wanted)
    hpas = sorted(autoscalers)
    if hpas:
        # Both would write spec.replicas, each undoing the other.
        out.actions.append(
            A.event(
                deployment,
                "Warning",
                "ConflictingAutoscaler",
                f"not scaled to zero: HorizontalPodAutoscaler {', '.join(hpas)} also scales "
                f"deployment {name}; remove it or the annotation {SCALE_TO_ZERO_AFTER}",
            )
        )
        return out
    last_request: float | None = None
    waiting = 0
    for report in reports:
        for key in wanted:
            seen = report.get(key)
            if seen is None:
                continue
            waiting += seen.waiting
            if seen.last_request is not None:
                last_request = max(last_request or seen.last_request, seen.last_request)
    replicas = int((deployment.get("spec") or {}).get("replicas", 1))
    names = ", ".join(sorted(k.partition("/")[2] for k in wanted))
    if replicas == 0:
        if waiting:
            out.actions.append(_scale(deployment, 1))
            out.actions.append(
                A.event(
                    deployment,
                    "Normal",
                    WOKEN,
                    f"Scaled from 0 to 1: {waiting} connection(s) waiting on Service {names}",
                )
            )
        return out
    active = [p for p in pods if is_active(p)]
    if waiting or not active or not all(is_ready(p) for p in active):
        # Loading (a pod not Ready yet) or busy: not idle. Pod and node changes look again.
        return out
    ready_at = max(t for t in (ready_since(p) for p in active) if t is not None)
    since = max(ready_at, last_request) if last_request is not None else ready_at
    left = since + opt.idle_window - now
    if left > 0:
        out.requeue_after = left
        return out
    if not mine:  # said when it would sleep, not while its Service is still being made
        out.actions.append(
            A.event(
                deployment,
                "Warning",
                "NoService",
                f"not scaled to zero: no Service selects the pods of deployment {name}, so no "
                "request could wake it again; create one, or remove the annotation "
                f"{SCALE_TO_ZERO_AFTER}",
            )
        )
        return out
    what = "request" if last_request is not None and last_request >= ready_at else "replica Ready"
    out.actions.append(_scale(deployment, 0))
    out.actions.append(
        A.event(
            deployment,
            "Normal",
            SLEPT,
            f"Scaled from {replicas} to 0: no request through Service {names} for "
            f"{_duration(opt.idle_window)} (last {what} at {format_time(since)})",
        )
    )
    return out


def _scale(deployment: Obj, replicas: int) -> A.Action:
    return A.patch(
        "deployments",
        namespace_of(deployment),
        name_of(deployment),
        {"spec": {"replicas": replicas}},
    )
