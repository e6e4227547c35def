"""The pure rollout steps of a Deployment: RollingUpdate, Recreate, paused scaling, clean-up.

Each function looks at the ReplicaSets as observed and returns one ``Step``: the scale
changes to make now. The caller turns a Step into API writes; the next informer event
brings the next step (level-triggered, as Kubernetes does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..objutil import Obj, creation_time, is_deleting, uid_of
from .util import (
    by_creation,
    revision_of,
    spec_replicas,
    status_int,
    surge_and_unavailable,
)


@dataclass
class Step:
    """What to change: ReplicaSet scales, a new ReplicaSet (its replicas), deletions."""

    scales: list[tuple[Obj, int]] = field(default_factory=list)
    create_replicas: int | None = None  # create the new RS with this many replicas
    cleanup: list[Obj] = field(default_factory=list)
    waiting: bool = False  # waiting for something the informers will not announce


def pods_of(rs: Obj) -> int:
    """Pods an RS may have right now: its target, or more while surplus pods are removed."""
    return max(spec_replicas(rs), status_int(rs, "replicas"))


def available_of(rs: Obj) -> int:
    """Available pods an RS will keep: those above its target are about to be deleted."""
    return min(status_int(rs, "availableReplicas"), spec_replicas(rs))


def new_rs_target(d: Obj, new_rs: Obj | None, all_rss: list[Obj]) -> int:
    """How many replicas the new RS may have now without exceeding replicas + maxSurge."""
    replicas = spec_replicas(d)
    cur = spec_replicas(new_rs) if new_rs is not None else 0
    if cur >= replicas:
        return replicas
    surge, _ = surge_and_unavailable(d)
    current = sum(pods_of(rs) for rs in all_rss)
    room = replicas + surge - current
    if room <= 0:
        return cur
    return cur + min(room, replicas - cur)


def old_rs_targets(d: Obj, new_rs: Obj, old_rss: list[Obj]) -> dict[str, int]:
    """New targets (by uid) for old ReplicaSets, keeping replicas − maxUnavailable available."""
    targets = {uid_of(rs): spec_replicas(rs) for rs in old_rss}
    if sum(targets.values()) == 0:
        return targets
    replicas = spec_replicas(d)
    _, unavailable = surge_and_unavailable(d)
    min_available = replicas - unavailable
    all_pods = sum(targets.values()) + spec_replicas(new_rs)
    new_unavailable = spec_replicas(new_rs) - available_of(new_rs)
    max_scaled_down = all_pods - min_available - new_unavailable
    if max_scaled_down <= 0:
        return targets
    ordered = by_creation(old_rss)
    # First remove old pods that are not available anyway: they cost no availability.
    cleaned = 0
    for rs in ordered:
        if cleaned >= max_scaled_down:
            break
        uid = uid_of(rs)
        unhealthy = targets[uid] - available_of(rs)
        if targets[uid] == 0 or unhealthy <= 0:
            continue
        down = min(max_scaled_down - cleaned, unhealthy)
        targets[uid] -= down
        cleaned += down
    # Then healthy ones, as far as availability allows.
    available = sum(min(available_of(rs), targets[uid_of(rs)]) for rs in old_rss) + available_of(
        new_rs
    )
    budget = min(available - min_available, max_scaled_down - cleaned)
    for rs in ordered:
        if budget <= 0:
            break
        uid = uid_of(rs)
        down = min(targets[uid], budget)
        targets[uid] -= down
        budget -= down
    return targets


def rolling_step(d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> Step:
    """One RollingUpdate step: scale the new RS up (within surge), else old ones down."""
    step = Step()
    if new_rs is None:
        step.create_replicas = new_rs_target(d, None, old_rss)
        return step
    all_rss = [*old_rss, new_rs]
    target = new_rs_target(d, new_rs, all_rss)
    if target != spec_replicas(new_rs):
        step.scales.append((new_rs, target))
        return step
    targets = old_rs_targets(d, new_rs, old_rss)
    for rs in old_rss:
        if targets[uid_of(rs)] != spec_replicas(rs):
            step.scales.append((rs, targets[uid_of(rs)]))
    return step


def recreate_step(d: Obj, new_rs: Obj | None, old_rss: list[Obj], old_pods_exist: bool) -> Step:
    """Recreate: all old pods down and gone before any new pod is created."""
    step = Step()
    for rs in old_rss:
        if spec_replicas(rs) > 0:
            step.scales.append((rs, 0))
    if step.scales:
        return step
    if old_pods_exist or any(status_int(rs, "replicas") > 0 for rs in old_rss):
        step.waiting = True
        return step
    replicas = spec_replicas(d)
    if new_rs is None:
        step.create_replicas = replicas
    elif spec_replicas(new_rs) != replicas:
        step.scales.append((new_rs, replicas))
    return step


def paused_step(d: Obj, new_rs: Obj | None, old_rss: list[Obj]) -> Step:
    """Paused: no rollout, but a change of ``replicas`` still scales the live ReplicaSet."""
    step = Step()
    active = [rs for rs in [*old_rss, *([new_rs] if new_rs else [])] if spec_replicas(rs) > 0]
    replicas = spec_replicas(d)
    if len(active) == 1 and spec_replicas(active[0]) != replicas:
        step.scales.append((active[0], replicas))
    elif not active and new_rs is not None and replicas > 0:
        step.scales.append((new_rs, replicas))
    elif len(active) > 1:
        # Mid-rollout pause: spread the difference over the largest RS, like kube's leftover.
        diff = replicas - sum(spec_replicas(rs) for rs in active)
        if diff:
            biggest = max(active, key=lambda rs: (spec_replicas(rs), revision_of(rs)))
            step.scales.append((biggest, max(0, spec_replicas(biggest) + diff)))
    return step


def cleanup_old(d: Obj, old_rss: list[Obj]) -> list[Obj]:
    """Old ReplicaSets beyond ``revisionHistoryLimit`` (oldest revisions first) to delete."""
    limit = (d.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    idle = [
        rs
        for rs in old_rss
        if spec_replicas(rs) == 0 and status_int(rs, "replicas") == 0 and not is_deleting(rs)
    ]
    if len(idle) <= limit:
        return []
    idle.sort(key=lambda rs: (revision_of(rs), creation_time(rs)))
    return idle[: len(idle) - limit]
