"""The scheduler's view of storage: informers over claims, volumes and classes, the
per-cycle resolution of a pod's claims (``plugins.volume_binding``), and the one write the
scheduler makes on a claim: ``volume.kubernetes.io/selected-node``, just before the pod's
Binding, for each unbound WaitForFirstConsumer claim it mounts (as kube-scheduler's
VolumeBinding PreBind)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from api.storage import SELECTED_NODE_ANNOTATION
from client import AsyncClient, Informer
from scheduler.plugins.volume_binding import claim_names, volume_constraints, with_constraints
from scheduler.podinfo import PodInfo

Obj = dict[str, Any]


class ClaimCache:
    """Claims, volumes and classes, watched; ``on_change`` runs on any change of them
    (a claim bound, a volume made: pods waiting for them may fit now)."""

    def __init__(self, client: AsyncClient, on_change: Callable[[], object]) -> None:
        self.client = client
        self.claims = Informer(client, "persistentvolumeclaims")
        self.volumes = Informer(client, "persistentvolumes")
        self.classes = Informer(client, "storageclasses")
        for inf in (self.claims, self.volumes, self.classes):
            inf.add_handler(
                lambda _o: on_change(), lambda _o, _n: on_change(), lambda _o: on_change()
            )

    def informers(self) -> tuple[Informer, ...]:
        return (self.claims, self.volumes, self.classes)

    async def wait_synced(self, timeout: float | None) -> None:
        for inf in self.informers():
            await inf.wait_synced(timeout)

    def stop(self) -> None:
        for inf in self.informers():
            inf.stop()

    def resolve(self, pi: PodInfo) -> PodInfo | str:
        """``pi`` with its volume constraints, or why it fits nowhere now."""
        names = claim_names(pi.pod)
        if not names:
            return pi
        volumes = {str((v.get("metadata") or {}).get("name")): v for v in self.volumes.list()}
        classes = {str((c.get("metadata") or {}).get("name")): c for c in self.classes.list()}
        got = volume_constraints(pi.namespace, names, self.claims.get, volumes, classes)
        return got if isinstance(got, str) else with_constraints(pi, got)

    async def select_node(self, pi: PodInfo, node: str) -> None:
        """Write the chosen node on each unbound WaitForFirstConsumer claim of the pod."""
        writes = []
        for c in pi.volumes:
            if not c.wait_for_consumer:
                continue
            pvc = self.claims.get(f"{pi.namespace}/{c.claim}")
            ann = ((pvc or {}).get("metadata") or {}).get("annotations") or {}
            if ann.get(SELECTED_NODE_ANNOTATION) == node:
                continue
            body = {"metadata": {"annotations": {SELECTED_NODE_ANNOTATION: node}}}
            writes.append(self.client.patch("persistentvolumeclaims", c.claim, body, pi.namespace))
        if writes:
            await asyncio.gather(*writes)
