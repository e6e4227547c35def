"""All-or-nothing placement of a gang's members, in one scheduling cycle. No I/O.

Every member is *assumed* in the scheduler's snapshot before the next is tried, so no
other pod (and no other gang) can take what an earlier member got; if one member fits
nowhere, every assumption made for the gang is dropped before the cycle ends. A gang
therefore never holds anything while it waits, and two gangs can never both half-start
and wait for each other (the deadlock of per-pod scheduling: mpi-operator#608).

Members go on the fewest nodes: first one box that can take them all (the fullest such
box, keeping empty ones for bigger gangs), else member by member through the framework,
whose GPU packing score keeps them together as far as the room allows.

``pack_counts`` is the same rule over plain free-GPU counts, for the ``make bench``
simulation. ``whole_gangs`` makes preemption take a gang whole, never a member alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from api.queues import gang_of
from scheduler.framework import Diagnosis, Framework, ScheduleResult
from scheduler.podinfo import PodInfo, pod_info
from scheduler.snapshot import NodeInfo, Snapshot

Placement = tuple[PodInfo, str, list[str]]  # member, node, GPU UUIDs


@dataclass
class GangBlocked:
    """The gang does not fit at once: the members that did (still assumed, so that the
    caller can judge preemption for ``blocker`` beside them; it must ``release`` them in
    the same cycle), the first that did not, and why."""

    placed: list[Placement]
    blocker: PodInfo
    diagnosis: Diagnosis


def release(snapshot: Snapshot, placed: list[Placement]) -> None:
    """Drop the assumptions made for a gang that does not start."""
    for m, _, _ in placed:
        snapshot.forget(m.key)


def _fits_here(fw: Framework, pod: PodInfo, node: NodeInfo) -> dict[str, list[str]] | None:
    """The allocations ``pod`` would get on ``node``, or None when a filter refuses."""
    if any(f.filter(pod, node) is not None for f in fw.filters if f.relevant(pod)):
        return None
    allocations: dict[str, list[str]] = {}
    for rp in fw.reserves:
        got = rp.reserve(pod, node)
        if got is None:
            return None
        allocations.update(got)
    return allocations


def _all_on_one_node(fw: Framework, members: list[PodInfo], snapshot: Snapshot) -> list[Placement]:
    need = sum(m.gpus for m in members)
    boxes = sorted(
        (ni for ni in snapshot.node_list if ni.free_gpu_count() >= need),
        key=lambda ni: (ni.free_gpu_count(), ni.name),
    )
    for ni in boxes:
        done: list[Placement] = []
        for m in members:
            got = _fits_here(fw, m, ni)
            if got is None:
                break
            uuids = got.get("gpus", [])
            snapshot.assume(m, ni.name, uuids)
            done.append((m, ni.name, uuids))
        if len(done) == len(members):
            return done
        for m, _, _ in done:
            snapshot.forget(m.key)
    return []


def plan_gang(
    fw: Framework, members: list[PodInfo], snapshot: Snapshot
) -> list[Placement] | GangBlocked:
    """Assume every member in ``snapshot`` (see the module docstring), or return why not
    (the caller then releases what was placed, before its cycle ends)."""
    if len(members) > 1:
        together = _all_on_one_node(fw, members, snapshot)
        if together:
            return together
    done: list[Placement] = []
    for m in members:
        result = fw.schedule(m, snapshot)
        if not isinstance(result, ScheduleResult):
            return GangBlocked(done, m, result)
        uuids = result.allocations.get("gpus", [])
        snapshot.assume(m, result.node.name, uuids)
        done.append((m, result.node.name, uuids))
    return done


def pack_counts(demands: list[int], free: Mapping[str, int]) -> list[str] | None:
    """The node of each member (GPUs ``demands``) over free-GPU counts, all or None: one
    box when one can take them all (the fullest such), else biggest members first, each
    on the box this gang already uses or else the fullest one that fits."""
    need = sum(demands)
    whole = sorted((n for n, f in free.items() if f >= need), key=lambda n: (free[n], n))
    if whole:
        return [whole[0]] * len(demands)
    left = dict(free)
    used: set[str] = set()
    out: list[str | None] = [None] * len(demands)
    for i in sorted(range(len(demands)), key=lambda i: -demands[i]):
        d = demands[i]
        fits = [n for n, f in left.items() if f >= d]
        if not fits:
            return None
        n = min(fits, key=lambda n: (n not in used, left[n], n))
        left[n] -= d
        used.add(n)
        out[i] = n
    return [n for n in out if n is not None]


def whole_gangs(
    victims: list[PodInfo], placed: Callable[[str], Iterable[dict[str, Any]]]
) -> list[PodInfo]:
    """``victims`` and, for each gang member among them, the gang's other placed members
    (``placed(namespace)``: the bound pods, and those being bound). A gang that loses one
    member is useless (its collective job fails), so it is preempted whole, and its Job
    makes it again whole; it is never left running in part, holding GPUs for nothing."""
    out = list(victims)
    seen = {v.key for v in victims}
    for v in victims:
        gang = gang_of(v.pod)
        if gang is None:
            continue
        for p in placed(v.namespace):
            if gang_of(p) != gang:
                continue
            sibling = pod_info(p)
            if sibling.key not in seen:
                seen.add(sibling.key)
                out.append(sibling)
    return out
