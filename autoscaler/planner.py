"""Which sleeping boxes to wake for which unschedulable pods (pure).

Each box is judged as it would be once up: its last reported node object with the asleep
taint, the not-ready/unreachable taints and NotReady lifted, run through the scheduler's
own filter plugins (``scheduler.plugins.default_framework``), so the rules live once.
The fewest boxes are chosen greedily: boxes already waking first, then, in rounds, the box
that takes the most of the pods still waiting. GPU pods are planned first; CPU pods go to
CPU boxes (or GPU boxes already chosen) before any further GPU box is woken for them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from api.power import ASLEEP_TAINT_KEY
from scheduler.framework import FilterPlugin
from scheduler.podinfo import PodInfo, pod_info
from scheduler.snapshot import NodeInfo

Obj = dict[str, Any]

# Taints a box carries only because it is off; the simulation looks past them.
POWER_TAINTS = frozenset(
    {ASLEEP_TAINT_KEY, "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
)


@dataclass
class Candidate:
    """A box that may be woken: its node object and its power group."""

    node: Obj
    group: str = ""


@dataclass
class WakePlan:
    """The boxes to wake, where each pod would go, and the pods no box could ever take."""

    wake: list[str] = field(default_factory=list)
    placed: dict[str, str] = field(default_factory=dict)  # pod key -> box
    never_fit: dict[str, str] = field(default_factory=dict)  # pod key -> why
    no_room: list[str] = field(default_factory=list)  # fit a box, but group max reached


def as_awake(node: Obj) -> Obj:
    """``node`` as it will look once booted: power taints gone, Ready True."""
    out = copy.deepcopy(node)
    spec = out.setdefault("spec", {})
    spec["taints"] = [t for t in spec.get("taints") or [] if t.get("key") not in POWER_TAINTS]
    spec.pop("unschedulable", None)
    conds = [
        c for c in (out.get("status") or {}).get("conditions") or [] if c.get("type") != "Ready"
    ]
    conds.append({"type": "Ready", "status": "True", "reason": "KubeletReady"})
    out.setdefault("status", {})["conditions"] = conds
    return out


def fits(filters: Sequence[FilterPlugin], pod: PodInfo, ni: NodeInfo) -> bool:
    return all(f.filter(pod, ni) is None for f in filters if f.relevant(pod))


def first_rejection(filters: Sequence[FilterPlugin], pod: PodInfo, ni: NodeInfo) -> str:
    for f in filters:
        if f.relevant(pod):
            rej = f.filter(pod, ni)
            if rej is not None:
                return ", ".join(rej.reasons)
    return ""


def _take(filters: Sequence[FilterPlugin], ni: NodeInfo, pods: Iterable[PodInfo]) -> list[str]:
    """Add to ``ni`` every pod of ``pods`` that still fits, in order; the keys taken."""
    taken = []
    for pi in pods:
        if fits(filters, pi, ni):
            ni.add_pod(pi)
            taken.append(pi.key)
    return taken


HOSTNAME_LABEL = "kubernetes.io/hostname"


def box_shape(node: Obj, group: str) -> str:
    """What the filters can tell apart between two empty boxes, the name left out: boxes
    of one shape take the same pods. GPU UUIDs differ per box but no filter reads them
    for a pod that names none."""
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    status = node.get("status") or {}
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != HOSTNAME_LABEL}
    gpus = [{k: v for k, v in g.items() if k != "uuid"} for g in status.get("gpus") or []]
    annotations = meta.get("annotations") or {}
    return json.dumps(
        [
            group,
            labels,
            spec.get("taints") or [],
            status.get("allocatable") or status.get("capacity") or {},
            gpus,
            [c for c in status.get("conditions") or [] if c.get("type") == "Ready"],
            "kubelab.io/storage-dir" in annotations,
        ],
        sort_keys=True,
    )


def names_a_box(pi: PodInfo) -> bool:
    """Whether the pod can tell boxes of one shape apart: it names a node, or its
    volumes live on certain nodes."""
    if pi.node_name or pi.gpu_uuids or pi.volumes or HOSTNAME_LABEL in pi.node_selector:
        return True
    if pi.required_affinity:
        text = json.dumps(pi.required_affinity)
        return HOSTNAME_LABEL in text or "matchFields" in text
    return False


def _order(pods: Iterable[PodInfo]) -> list[PodInfo]:
    # Big pods first (first-fit decreasing), GPU pods before CPU pods.
    return sorted(pods, key=lambda p: (-p.gpus, -p.cpu, -p.memory, p.key))


def plan_wakeups(
    filters: Sequence[FilterPlugin],
    pending: Sequence[Obj],
    sleeping: Sequence[Candidate],
    waking: Sequence[Obj] = (),
    room: Mapping[str, int] | None = None,
    bound: Mapping[str, Sequence[Obj]] | None = None,
    *,
    by_shape: bool = True,
) -> WakePlan:
    """The fewest sleeping boxes that take ``pending`` (unschedulable pods), after the
    boxes already ``waking`` (or up, with ``bound``: the pods on each, by box name);
    ``room``: how many more boxes each group may power on (absent group: no limit).
    ``by_shape=False`` tries every box each round (the same plan, slower; for tests)."""
    plan = WakePlan()
    infos = {pi.key: pi for pi in (pod_info(p) for p in pending)}
    left = dict(infos)
    boxes = {(c.node.get("metadata") or {}).get("name", ""): c for c in sleeping}
    sims = {name: NodeInfo(as_awake(c.node)) for name, c in boxes.items()}
    # Never fit: no sleeping, waking box, even empty, would take the pod.
    empties = list(sims.values()) + [NodeInfo(as_awake(n)) for n in waking]
    for key, pi in infos.items():
        if not any(fits(filters, pi, ni) for ni in empties):
            why = {ni.name: first_rejection(filters, pi, ni) for ni in empties}
            plan.never_fit[key] = (
                "; ".join(f"{n}: {r}" for n, r in sorted(why.items()))
                if why
                else "no box may be powered on"
            )
            del left[key]
    for node in waking:
        ni = NodeInfo(as_awake(node))
        for p in (bound or {}).get(ni.name, ()):
            ni.add_pod(pod_info(p))
        for key in _take(filters, ni, _order(left.values())):
            plan.placed[key] = ni.name
            left.pop(key)
    chosen: dict[str, NodeInfo] = {}
    room = dict(room or {})
    gpu_pods = [p for p in left.values() if p.gpus]
    cpu_pods = [p for p in left.values() if not p.gpus]
    # One trial per shape and round, not per box: with 100 alike boxes and 1,000 pods
    # that is the difference between seconds and milliseconds. The first unchosen box of
    # a shape by name is the one the per-box search would pick among them (same count,
    # same GPUs, lowest name), so the plan is the same.
    shapes: dict[str, list[str]] = {}
    if by_shape and not any(names_a_box(pi) for pi in left.values()):
        for name in sorted(sims):
            shapes.setdefault(box_shape(boxes[name].node, boxes[name].group), []).append(name)
    else:
        shapes = {name: [name] for name in sorted(sims)}
    classes = list(shapes.values())
    _rounds(filters, plan, chosen, sims, boxes, room, gpu_pods, allow_gpu_boxes=True,
            classes=classes)  # fmt: skip
    cpu_left = [p for p in cpu_pods if p.key not in plan.placed]
    for name, ni in chosen.items():  # room left on boxes woken for GPU pods
        for key in _take(filters, ni, _order(cpu_left)):
            plan.placed[key] = name
        cpu_left = [p for p in cpu_left if p.key not in plan.placed]
    _rounds(filters, plan, chosen, sims, boxes, room, cpu_left, allow_gpu_boxes=False,
            classes=classes)  # fmt: skip
    cpu_left = [p for p in cpu_left if p.key not in plan.placed]
    _rounds(filters, plan, chosen, sims, boxes, room, cpu_left, allow_gpu_boxes=True,
            classes=classes)  # fmt: skip
    plan.no_room = sorted(k for k in left if k not in plan.placed)
    return plan


def _rounds(
    filters: Sequence[FilterPlugin],
    plan: WakePlan,
    chosen: dict[str, NodeInfo],
    sims: dict[str, NodeInfo],
    boxes: Mapping[str, Candidate],
    room: dict[str, int],
    pods: list[PodInfo],
    *,
    allow_gpu_boxes: bool,
    classes: Sequence[Sequence[str]],
) -> None:
    """Wake, one round at a time, the box taking the most of ``pods`` (ties: fewer GPUs,
    then name) until none takes any. ``classes``: boxes that take the same pods, by
    name; only the first unchosen one of each is tried."""
    waiting = _order(pods)
    while waiting:
        best: tuple[tuple[int, int, str], str, NodeInfo, list[str]] | None = None
        for members in classes:
            name = next((n for n in members if n not in chosen), "")
            if not name:
                continue
            sim = sims[name]
            if not allow_gpu_boxes and sim.alloc_gpus > 0:
                continue
            if room.get(boxes[name].group, 1) <= 0:
                continue
            trial = sim.clone()
            taken = _take(filters, trial, waiting)
            if not taken:
                continue
            rank = (-len(taken), sim.alloc_gpus, name)
            if best is None or rank < best[0]:
                best = (rank, name, trial, taken)
        if best is None:
            return
        _, name, trial, taken = best
        chosen[name] = trial
        plan.wake.append(name)
        group = boxes[name].group
        if group in room:
            room[group] -= 1
        for key in taken:
            plan.placed[key] = name
        waiting = [p for p in waiting if p.key not in plan.placed]


def waiting_fit(
    filters: Sequence[FilterPlugin], waiting: Sequence[Obj], node: Obj, bound: Sequence[Obj]
) -> str:
    """The key of a ``waiting`` pod that would fit ``node`` (awake, uncordoned) beside its
    ``bound`` pods, '' for none: a box such a pod may still land on is not idle."""
    ni = NodeInfo(as_awake(node))
    for p in bound:
        ni.add_pod(pod_info(p))
    for pi in (pod_info(p) for p in waiting):
        if fits(filters, pi, ni):
            return pi.key
    return ""
