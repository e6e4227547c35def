"""The StatefulSet controller's shell: feeds ``plan`` from the shared informers and applies
its writes in order (a pod's claims before the pod), with expectations so that an informer
behind our own writes does not make it create or delete a pod twice."""

from __future__ import annotations

import logging

from client import ApiError

from .. import actions as A
from ..base import apply_action
from ..history import RESOURCE as REVISIONS
from ..objutil import Obj, namespace_of
from ..replicaset import ReplicaSetController
from .identity import claim_templates
from .plan import plan

log = logging.getLogger(__name__)

CLAIMS = "persistentvolumeclaims"


class StatefulSetController(ReplicaSetController):
    """The ReplicaSet shell's pod events and expectations, with claims and revisions."""

    name = "statefulset"
    kind = "StatefulSet"
    resource = "statefulsets"

    def setup(self) -> None:
        super().setup()
        self.claims = self.ctx.index(CLAIMS)
        self.revisions = self.ctx.index(REVISIONS)

    async def sync(self, key: str) -> float | None:
        sts = self.owners.get(key)
        if sts is None:
            self.expectations.forget(key)
            return None
        sts = self.ctx.overlay.latest(self.resource, sts)
        ns = namespace_of(sts)
        claims = self.claims.in_namespace(ns) if claim_templates(sts) else []
        revisions = self.ctx.overlay.merged(REVISIONS, self.revisions.in_namespace(ns), ns)
        step = plan(
            sts,
            self.pods.in_namespace(ns),
            claims,
            revisions,
            self.ctx.clock(),
            expectations_satisfied=self.expectations.satisfied(key),
        )
        creates = step.result.of("create", "pods")
        deletes = step.result.of("delete", "pods")
        self.expectations.expect(
            key, adds=len(creates), deletes=[f"{ns}/{a.name}" for a in deletes]
        )
        pending = list(creates)
        try:
            for a in step.actions:
                await self._apply(key, sts, a)
                if a in pending:
                    pending.remove(a)
        finally:
            # Creations never made will never be observed.
            self.expectations.creation_observed(key, len(pending))
        return step.result.requeue_after

    async def _apply(self, key: str, sts: Obj, a: A.Action) -> None:
        try:
            out = await apply_action(self.ctx, a)
        except ApiError as e:
            if e.code == 409 and a.verb == "create" and a.resource in (CLAIMS, REVISIONS):
                return  # made by an earlier sync the informer has not shown yet
            if a.verb == "create" and a.resource == "pods":
                self.ctx.recorder.record(
                    sts,
                    "Warning",
                    "FailedCreate",
                    f"create Pod {a.name} in StatefulSet {sts['metadata']['name']} failed "
                    f"error: {e}",
                )
            if a.verb == "delete" and a.resource == "pods":
                self.expectations.deletion_observed(key, f"{a.namespace}/{a.name}")
            raise
        if a.verb == "delete" and a.resource == "pods" and out is None:
            # Already gone (404): no event for it will come.
            self.expectations.deletion_observed(key, f"{a.namespace}/{a.name}")
