"""``persistentVolumeClaim`` volumes: claim → bound PersistentVolume → a directory on this
node (a ``local`` or ``hostPath`` volume), bind-mounted like any other volume.

A claim that does not exist, is not bound yet (a WaitForFirstConsumer claim is bound just
after its pod is scheduled) or whose volume lives on another node keeps the pod in
ContainerCreating with the reason, retried shortly, as Kubernetes' FailedMount.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from api.errors import ApiError
from api.storage import pod_claims
from api.volume_match import fits_node, node_terms, pinned_node
from kubelet.local_volumes import local_dir, prepare_volume
from kubelet.node_caches import is_node_cache, prepare_copy
from kubelet.podhandle import PodHandle
from kubelet.volumes import MissingVolumeSource

Obj = dict[str, Any]

# A claim being bound right now is ready within a moment: look again soon.
CLAIM_RETRY = 0.5


class ClaimNotReady(MissingVolumeSource):
    """The pod's claim cannot be mounted yet; the pod waits in ContainerCreating."""

    def __init__(self, volume: str, why: str) -> None:
        Exception.__init__(self, f'MountVolume.SetUp failed for volume "{volume}" : {why}')
        self.volume = volume
        self.retry_after = CLAIM_RETRY


def volume_path(pv: Obj) -> str | None:
    spec = pv.get("spec") or {}
    for source in ("local", "hostPath"):
        path = (spec.get(source) or {}).get("path")
        if path:
            return str(path)
    return None


async def _get(h: PodHandle, resource: str, name: str, namespace: str | None) -> Obj | None:
    try:
        return await h.ctx.client.get(resource, name, namespace)
    except ApiError as e:
        if e.code == 404:
            return None
        raise


async def resolve_claims(h: PodHandle) -> dict[str, str]:
    """Volume name → host directory for each claim the pod mounts; raises ClaimNotReady
    while one cannot be mounted."""
    out: dict[str, str] = {}
    for vol, claim_name in pod_claims(h.pod).items():
        claim = await _get(h, "persistentvolumeclaims", claim_name, h.namespace)
        if claim is None:
            raise ClaimNotReady(vol, f'persistentvolumeclaim "{claim_name}" not found')
        pv_name = (claim.get("spec") or {}).get("volumeName")
        phase = (claim.get("status") or {}).get("phase") or "Pending"
        if not pv_name or phase != "Bound":
            raise ClaimNotReady(
                vol, f'persistentvolumeclaim "{claim_name}" is not bound yet (phase {phase})'
            )
        pv = await _get(h, "persistentvolumes", str(pv_name), None)
        if pv is None:
            raise ClaimNotReady(
                vol, f'persistentvolume "{pv_name}" of claim "{claim_name}" not found'
            )
        if is_node_cache(pv):  # this node's own copy, made empty for its first pod
            copy = await asyncio.to_thread(prepare_copy, h.ctx.config.storage_dir, str(pv_name))
            out[vol] = str(copy)
            continue
        node = await _get(h, "nodes", h.ctx.node_name, None) if node_terms(pv) else None
        if node_terms(pv) and not fits_node(pv, node):
            where = pinned_node(pv)
            raise ClaimNotReady(
                vol,
                f'persistentvolume "{pv_name}" lives on '
                f"{'node ' + where if where else 'other nodes'}, not on node {h.ctx.node_name}",
            )
        path = volume_path(pv)
        if path is None:
            raise ClaimNotReady(
                vol, f'persistentvolume "{pv_name}" has no local or hostPath source'
            )
        config = h.ctx.config
        mine = local_dir(pv, config.storage_dir)
        if mine is not None:  # ready before the volume watcher gets to it, if need be
            await asyncio.to_thread(
                prepare_volume, pv, mine, config.storage_dir, config.enforce_volume_capacity
            )
        elif not Path(path).is_dir():
            raise ClaimNotReady(
                vol, f'persistentvolume "{pv_name}": directory {path} does not exist on this node'
            )
        out[vol] = path
    return out
