"""VolumeBinding: where a pod's PersistentVolumeClaims let it run, as kube-scheduler's plugin.

- A claim that is missing, being deleted, or ``Immediate`` and not bound yet makes the pod
  unschedulable everywhere (``pod has unbound immediate PersistentVolumeClaims``): the PV
  controller binds it first.
- A bound claim whose volume has node affinity (a local volume) pins the pod to the nodes
  the volume allows: "volume data-web-0 lives on node gpu-2".
- An unbound ``WaitForFirstConsumer`` claim may go to any node that can get its volume
  (local-path: a node that announces a storage dir; a class without provisioner: a node
  one of the matching free volumes allows); once the pod is placed the scheduler writes
  ``volume.kubernetes.io/selected-node`` on the claim, and the volume is made or bound
  there.

The claims are resolved once per scheduling cycle (``volume_constraints``, pure over the
cached claims, volumes and classes) into constraints kept on the PodInfo and in its
signature, so the filter itself reads only the pod and the node, and is static.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from api.selectors import match_node_selector_terms
from api.storage import (
    LOCAL_PATH_PROVISIONER,
    NO_PROVISIONER,
    NODE_CACHE_PROVISIONER,
    PROVISIONED_BY_ANNOTATION,
    STORAGE_DIR_ANNOTATION,
    pod_claims,
)
from api.volume_match import mismatch, node_terms, pinned_node
from scheduler.framework import Rejection
from scheduler.hints import NODE_EVENTS, ClusterEvent, QueueingHint, hint_if_passes
from scheduler.podinfo import PodInfo, shared_bytes
from scheduler.snapshot import NodeInfo

Obj = dict[str, Any]

UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
CONFLICT = "node(s) had volume node affinity conflict"
NO_VOLUMES = "node(s) didn't find available persistent volumes to bind"
NO_STORAGE_DIR = "node(s) cannot provision local-path volumes"
RWOP_IN_USE = "a ReadWriteOncePod PersistentVolumeClaim of the pod is already in use"


@dataclass(frozen=True)
class VolumeConstraint:
    """Where one claim lets the pod run: on a node matching any of ``alternatives`` (each
    a list of node selector terms; None: anywhere), and, for ``local_path``, on a node
    that announces a storage dir. ``pinned``: the one node, for the message."""

    claim: str
    alternatives: tuple[Any, ...]
    pinned: str | None = None
    local_path: bool = False
    wait_for_consumer: bool = False  # unbound WaitForFirstConsumer: gets selected-node
    cache: str | None = None  # a node-cache volume: NodeCacheLocality prefers its nodes


def claim_names(pod: Obj) -> list[str]:
    """The claims a pod mounts, in volume order, each once."""
    return list(dict.fromkeys(pod_claims(pod).values()))


def volume_constraints(
    namespace: str,
    claims: list[str],
    get_claim: Any,
    volumes: Mapping[str, Obj],
    classes: Mapping[str, Obj],
    users: Any = None,
) -> list[VolumeConstraint] | str:
    """The constraints of a pod's claims, or why it fits nowhere now (pure: ``get_claim``
    reads the cache by ``namespace/name``; ``users(claim)`` names the other live pods
    placed with that claim, for ReadWriteOncePod)."""
    out: list[VolumeConstraint] = []
    for name in claims:
        pvc = get_claim(f"{namespace}/{name}")
        if pvc is None:
            return f'persistentvolumeclaim "{name}" not found'
        if (pvc.get("metadata") or {}).get("deletionTimestamp"):
            return f'persistentvolumeclaim "{name}" is being deleted'
        modes = (pvc.get("spec") or {}).get("accessModes") or []
        if "ReadWriteOncePod" in modes and users is not None:
            others = users(name)
            if others:
                return f"{RWOP_IN_USE} (claim {name}, by pod {others[0]})"
        spec = pvc.get("spec") or {}
        volume_name = spec.get("volumeName")
        if volume_name:
            pv = volumes.get(str(volume_name))
            if pv is None:
                return f'persistentvolume "{volume_name}" not found'
            terms = node_terms(pv)
            if terms is not None:
                out.append(VolumeConstraint(name, (terms,), pinned_node(pv)))
            elif _made_by(pv) == NODE_CACHE_PROVISIONER:
                out.append(VolumeConstraint(name, (None,), cache=str(volume_name)))
            continue
        sc = classes.get(str(spec.get("storageClassName") or ""))
        if sc is None or sc.get("volumeBindingMode") != "WaitForFirstConsumer":
            return UNBOUND_IMMEDIATE
        provisioner = sc.get("provisioner")
        free = [pv for pv in volumes.values() if mismatch(pv, pvc) is None]
        alternatives = tuple(node_terms(pv) for pv in free)
        if provisioner == NO_PROVISIONER:
            if not free:
                return f"{NO_VOLUMES} (claim {name})"
            out.append(VolumeConstraint(name, alternatives, wait_for_consumer=True))
        elif provisioner == LOCAL_PATH_PROVISIONER and not any(a is None for a in alternatives):
            # Any node that can hold a new local volume, or one a free volume allows.
            out.append(
                VolumeConstraint(name, alternatives, local_path=True, wait_for_consumer=True)
            )
        else:
            out.append(VolumeConstraint(name, (None,), wait_for_consumer=True))
    return out


def _made_by(pv: Obj) -> str | None:
    return ((pv.get("metadata") or {}).get("annotations") or {}).get(PROVISIONED_BY_ANNOTATION)


def with_constraints(pi: PodInfo, constraints: list[VolumeConstraint]) -> PodInfo:
    """``pi`` carrying its volume constraints, in its signature too (static verdicts are
    cached per signature: two pods of one template with claims on different nodes differ)."""
    if not constraints:
        return pi
    extra = orjson.dumps(
        [[c.claim, list(c.alternatives), c.local_path, c.cache] for c in constraints],
        option=orjson.OPT_SORT_KEYS,
    )
    return dataclasses.replace(
        pi, volumes=tuple(constraints), signature=shared_bytes(pi.signature + b"|" + extra)
    )


class VolumeBinding:
    """Filter nodes by where the pod's volumes live or can be made."""

    name = "VolumeBinding"
    static = True
    events = NODE_EVENTS

    def relevant(self, pod: PodInfo) -> bool:
        return bool(pod.volumes)

    def queueing_hint(self, pod: PodInfo, event: ClusterEvent) -> QueueingHint:
        return hint_if_passes(self, pod, event)

    def filter(self, pod: PodInfo, node: NodeInfo) -> Rejection | None:
        for c in pod.volumes:
            if c.local_path and STORAGE_DIR_ANNOTATION in (
                (node.node.get("metadata") or {}).get("annotations") or {}
            ):
                continue
            if any(a is None or match_node_selector_terms(a, node.node) for a in c.alternatives):
                continue
            if c.local_path and not c.alternatives:
                return Rejection(
                    (NO_STORAGE_DIR,),
                    f"claim {c.claim}: the node's kubelet announces no storage dir for "
                    "local-path volumes",
                )
            if c.pinned:
                return Rejection(
                    (f"{CONFLICT} (volume {c.claim} lives on node {c.pinned})",),
                    f"volume {c.claim} lives on node {c.pinned}",
                )
            reason = CONFLICT if not c.wait_for_consumer else NO_VOLUMES
            return Rejection((reason,), f"claim {c.claim}: no volume it can use is on this node")
        return None
