"""The scale-to-zero controller's shell (issue 20 item 3): one key per Deployment that opts
in with ``kubelab.io/scale-to-zero-after`` (``api/scaletozero.py``), looked at again when
it, its pods, a Service of its namespace or a node's activity report changes, and when
its idle window ends. ``controllers/scaletozero_decide.py`` decides; this applies.

The requests it counts are the ones the kubelets' Service proxies saw: each kubelet
writes them on its own Node (``kubelab.io/service-activity``), the only object the Node
authorizer lets it write that the controller can read.
"""

from __future__ import annotations

from api.scaletozero import SCALE_TO_ZERO_AFTER, activator_mark, node_activity

from .base import Controller, apply_all
from .loadbalancer import node_ready
from .objutil import (
    Obj,
    annotations_of,
    key_of,
    meta,
    namespace_of,
    selector_matches,
)
from .scaletozero_decide import decide, selects


class ScaleToZeroController(Controller):
    """Scales idle Deployments to 0 and woken ones back to 1."""

    name = "scaletozero"

    def setup(self) -> None:
        self.deployments = self.ctx.index("deployments")
        self.services = self.ctx.index("services")
        self.pods = self.ctx.index("pods")
        self.nodes = self.ctx.index("nodes")
        self._opted: dict[str | None, set[str]] = {}  # opted-in Deployments by namespace
        self.hpas = self.ctx.index("horizontalpodautoscalers")
        self.hpas.informer.add_handler(
            on_add=self._hpa,
            on_update=lambda o, n: self._hpa(n),
            on_delete=self._hpa,
        )
        self.deployments.informer.add_handler(
            on_add=self._deployment,
            on_update=lambda o, n: self._deployment(n, o),
            on_delete=self._deployment,
        )
        self.services.informer.add_handler(
            on_add=self._service,
            on_update=self._service_changed,
            on_delete=self._service,
        )
        self.pods.informer.add_handler(
            on_add=self._pod,
            on_update=lambda o, n: self._pod(n),
            on_delete=self._pod,
        )
        self.nodes.informer.add_handler(
            on_add=self._node,
            on_update=lambda o, n: self._node(n, o),
            on_delete=self._node,
        )

    def _deployment(self, obj: Obj, old: Obj | None = None) -> None:
        # Kept by hand so that a pod event costs nothing where no Deployment opts in.
        opted = self._opted.setdefault(namespace_of(obj), set())
        if SCALE_TO_ZERO_AFTER in annotations_of(obj) and self.deployments.get(key_of(obj)):
            opted.add(key_of(obj))
        else:
            opted.discard(key_of(obj))
        # Also one that dropped the annotation (or was deleted): its marks must go.
        if SCALE_TO_ZERO_AFTER in annotations_of(obj) or (
            old is not None and SCALE_TO_ZERO_AFTER in annotations_of(old)
        ):
            self.enqueue(key_of(obj))
        elif old is None:  # a delete (or an add without the annotation: nothing to undo)
            mark_owners = {activator_mark(s) for s in self.services.in_namespace(namespace_of(obj))}
            if any(m is not None and m.deployment == meta(obj).get("name") for m in mark_owners):
                self.enqueue(key_of(obj))

    def _opted_in(self, namespace: str | None) -> list[Obj]:
        found = (self.deployments.get(k) for k in self._opted.get(namespace, ()))
        return [d for d in found if d is not None]

    def _service_changed(self, old: Obj, new: Obj) -> None:
        self._service(old)
        self._service(new)

    def _service(self, svc: Obj) -> None:
        ns = namespace_of(svc)
        mark = activator_mark(svc)
        if mark is not None:
            self.enqueue(f"{ns}/{mark.deployment}")
        for d in self._opted_in(ns):
            if selects(svc, d):
                self.enqueue(key_of(d))

    def _pod(self, pod: Obj) -> None:
        labels = dict(meta(pod).get("labels") or {})
        for d in self._opted_in(namespace_of(pod)):
            if selector_matches((d.get("spec") or {}).get("selector"), labels):
                self.enqueue(key_of(d))

    def _hpa(self, hpa: Obj) -> None:
        ref = (hpa.get("spec") or {}).get("scaleTargetRef") or {}
        if ref.get("kind") == "Deployment" and ref.get("name"):
            self.enqueue(f"{namespace_of(hpa)}/{ref['name']}")

    def _node(self, node: Obj, old: Obj | None = None) -> None:
        now, before = node_activity(node), node_activity(old)
        changed = {k for k in now.keys() | before.keys() if now.get(k) != before.get(k)}
        for key in changed:
            ns, _, name = key.partition("/")
            svc = self.services.get(key)
            mark = activator_mark(svc)
            if mark is not None:
                self.enqueue(f"{ns}/{mark.deployment}")

    async def sync(self, key: str) -> float | None:
        ns, _, name = key.partition("/")
        deployment = self.deployments.get(key)
        if deployment is not None:
            deployment = self.ctx.overlay.latest("deployments", deployment)
        selector = ((deployment or {}).get("spec") or {}).get("selector")
        pods = [
            p
            for p in self.pods.in_namespace(ns)
            if selector_matches(selector, dict(meta(p).get("labels") or {}))
        ]
        # A node that is not Ready may hold a stale report (its kubelet died holding
        # connections): only Ready nodes' reports count.
        reports = [node_activity(n) for n in self.nodes.informer.list() if node_ready(n)]
        decision = decide(
            ns,
            name,
            deployment,
            self.services.in_namespace(ns),
            pods,
            reports,
            self.ctx.clock(),
            [
                str(meta(h).get("name"))
                for h in self.hpas.in_namespace(ns)
                if ((h.get("spec") or {}).get("scaleTargetRef") or {}).get("kind") == "Deployment"
                and h["spec"]["scaleTargetRef"].get("name") == name
            ],
        )
        await apply_all(self.ctx, decision.actions)
        return decision.requeue_after
