"""The PV controller: binds claims to volumes, provisions local-path volumes, keeps both
sides' phases, protects claims in use and volumes bound, reclaims released volumes.

Keys are ``claim:NS/NAME`` and ``volume:NAME``; the decisions are the pure functions of
``controllers.pv_decisions``. A change to a volume looks at its claim again and the other
way round, and a pod that goes away looks again at the claims it mounted (a claim being
deleted waits for its last pod).
"""

from __future__ import annotations

from api.storage import pod_claims
from client import ApiError

from . import actions as A
from .base import Controller, apply_action
from .objutil import Obj, is_deleting, key_of, name_of, namespace_of
from .pv_decisions import claim_actions, pods_using, volume_actions

CLAIM, VOLUME = "claim:", "volume:"


def _claims_of(pod: Obj) -> list[str]:
    ns = namespace_of(pod) or "default"
    return [f"{ns}/{name}" for name in pod_claims(pod).values()]


class PersistentVolumeController(Controller):
    """persistentvolume-binder, pvc-protection and pv-protection in one controller."""

    name = "persistentvolume"

    def setup(self) -> None:
        self.claims = self.ctx.index("persistentvolumeclaims")
        self.volumes = self.ctx.index("persistentvolumes")
        self.classes = self.ctx.index("storageclasses")
        self.nodes = self.ctx.index("nodes")
        self.pods = self.ctx.index("pods")
        self.claims.informer.add_handler(
            on_add=self._claim_changed,
            on_update=lambda _o, n: self._claim_changed(n),
            on_delete=self._claim_changed,
        )
        self.volumes.informer.add_handler(
            on_add=self._volume_changed,
            on_update=lambda _o, n: self._volume_changed(n),
            on_delete=self._volume_changed,
        )
        self.pods.informer.add_handler(
            on_update=lambda _o, n: self._pod_changed(n), on_delete=self._pod_changed
        )
        # A class appearing later lets waiting claims go on.
        self.classes.informer.add_handler(on_add=lambda _sc: self._all_pending_claims())

    def _claim_changed(self, pvc: Obj) -> None:
        self.enqueue(CLAIM + key_of(pvc))
        vol = (pvc.get("spec") or {}).get("volumeName")
        if vol:
            self.enqueue(VOLUME + vol)
        for pv in self.volumes.informer.list():
            ref = (pv.get("spec") or {}).get("claimRef") or {}
            if ref.get("name") == name_of(pvc) and ref.get("namespace") == namespace_of(pvc):
                self.enqueue(VOLUME + name_of(pv))

    def _volume_changed(self, pv: Obj) -> None:
        self.enqueue(VOLUME + name_of(pv))
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        if ref.get("name"):
            self.enqueue(f"{CLAIM}{ref.get('namespace')}/{ref['name']}")
        # A new free volume may serve a claim that waits.
        if not ref:
            self._all_pending_claims()

    def _all_pending_claims(self) -> None:
        for pvc in self.claims.informer.list():
            if not (pvc.get("spec") or {}).get("volumeName"):
                self.enqueue(CLAIM + key_of(pvc))

    def _pod_changed(self, pod: Obj) -> None:
        for key in _claims_of(pod):
            self.enqueue(CLAIM + key)

    async def sync(self, key: str) -> float | None:
        if key.startswith(CLAIM):
            await self._sync_claim(key[len(CLAIM) :])
        elif key.startswith(VOLUME):
            await self._sync_volume(key[len(VOLUME) :])
        return None

    async def _in_use(self, pvc: Obj) -> bool:
        """Whether a pod that has not terminated mounts the claim. The cache saying no is
        checked against the API (a pod created a moment ago), as Kubernetes does."""
        ns, name = namespace_of(pvc) or "default", name_of(pvc)
        if pods_using(self.pods.in_namespace(ns), name):
            return True
        live = await self.ctx.client.list("pods", ns)
        return bool(pods_using(live.get("items") or [], name))

    async def _sync_claim(self, key: str) -> None:
        pvc = self.claims.get(key)
        if pvc is None:
            return
        in_use = await self._in_use(pvc) if is_deleting(pvc) else False
        volumes = {name_of(v): v for v in self.volumes.informer.list()}
        classes = {name_of(c): c for c in self.classes.informer.list()}
        nodes = {name_of(n): n for n in self.nodes.informer.list()}
        await self._apply(claim_actions(pvc, volumes, classes, nodes, in_use))

    async def _sync_volume(self, name: str) -> None:
        pv = self.volumes.get(name)
        if pv is None:
            return
        ref = (pv.get("spec") or {}).get("claimRef") or {}
        claim = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}") if ref else None
        if ref and claim is None:
            # The cache may lag behind a claim created a moment ago: never release a
            # volume (and so, for Delete, lose its data) on the cache's word alone.
            try:
                claim = await self.ctx.client.get(
                    "persistentvolumeclaims", str(ref.get("name")), ref.get("namespace")
                )
            except ApiError as e:
                if e.code != 404:
                    raise
        await self._apply(volume_actions(pv, claim))

    async def _apply(self, actions: list[A.Action]) -> None:
        for action in actions:
            try:
                await apply_action(self.ctx, action)
            except ApiError as e:
                if action.verb == "create" and e.code == 409:
                    continue  # made by an earlier sync; the informer brings it
                raise
