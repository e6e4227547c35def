"""The scheduler's view of storage: informers over claims, volumes and classes, the
per-cycle resolution of a pod's claims (``plugins.volume_binding``), and the one write the
scheduler makes on a claim: ``volume.kubernetes.io/selected-node``, before the pod's
Binding, for each unbound WaitForFirstConsumer claim it mounts. As kube-scheduler's
VolumeBinding PreBind, the Binding then waits (a while) for those claims to be bound, so
the pod reaches its kubelet with its volume ready instead of failing its first mount."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from api.storage import SELECTED_NODE_ANNOTATION, pod_claims
from client import AsyncClient, Informer
from scheduler.plugins.volume_binding import claim_names, volume_constraints, with_constraints
from scheduler.podinfo import PodInfo

Obj = dict[str, Any]

# How long a Binding waits for its WaitForFirstConsumer claims to be provisioned.
BIND_WAIT = 10.0


def _bound(pvc: Obj | None) -> bool:
    """The claim has its volume and says so (what its pod's kubelet checks)."""
    pvc = pvc or {}
    return bool((pvc.get("spec") or {}).get("volumeName")) and (
        (pvc.get("status") or {}).get("phase") == "Bound"
    )


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
        # Bindings waiting for claims to be bound look again on every claim change.
        self._claim_changed = asyncio.Event()
        self.claims.add_handler(
            lambda _o: self._claim_changed.set(), lambda _o, _n: self._claim_changed.set()
        )

    def informers(self) -> tuple[Informer, ...]:
        return (self.claims, self.volumes, self.classes)

    async def wait_synced(self, timeout: float | None) -> None:
        for inf in self.informers():
            await inf.wait_synced(timeout)

    def stop(self) -> None:
        for inf in self.informers():
            inf.stop()

    def resolve(self, pi: PodInfo, placed: Callable[[str], list[Obj]]) -> PodInfo | str:
        """``pi`` with its volume constraints, or why it fits nowhere now; ``placed(ns)``:
        the live pods of a namespace that are bound or being bound (ReadWriteOncePod)."""
        names = claim_names(pi.pod)
        if not names:
            return pi
        volumes = {str((v.get("metadata") or {}).get("name")): v for v in self.volumes.list()}
        classes = {str((c.get("metadata") or {}).get("name")): c for c in self.classes.list()}

        def users(claim: str) -> list[str]:
            return [
                str((p.get("metadata") or {}).get("name"))
                for p in placed(pi.namespace)
                if claim in pod_claims(p).values()
                and (p.get("metadata") or {}).get("name") != pi.name
            ]

        got = volume_constraints(pi.namespace, names, self.claims.get, volumes, classes, users)
        return got if isinstance(got, str) else with_constraints(pi, got)

    async def select_node(self, pi: PodInfo, node: str) -> bool:
        """Write the chosen node on each unbound WaitForFirstConsumer claim of the pod;
        True when it has such claims."""
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
        return any(c.wait_for_consumer for c in pi.volumes)

    async def wait_bound(self, pi: PodInfo, timeout: float = BIND_WAIT) -> bool:
        """Until every WaitForFirstConsumer claim of the pod has a volume (True), or
        ``timeout`` seconds (False: the pod is bound anyway and its kubelet waits)."""
        waiting = [c.claim for c in pi.volumes if c.wait_for_consumer]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if all(_bound(self.claims.get(f"{pi.namespace}/{name}")) for name in waiting):
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            self._claim_changed.clear()
            try:
                await asyncio.wait_for(self._claim_changed.wait(), left)
            except TimeoutError:
                return False
