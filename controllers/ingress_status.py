"""Ingress status controller: an Ingress of the built-in router's classes gets
``status.loadBalancer.ingress`` = the address of every Ready node, since every node's
router (kubelet/ingress_router.py) serves it on its own address, as k3s' Traefik and
ServiceLB publish it. The addresses are the load-balancer controller's
(``ready_node_ingress``); Ingresses of other controllers' classes are left to them.
``reconcile`` is pure."""

from __future__ import annotations

from api.ingress import KUBELAB_INGRESS_CONTROLLER, served_by

from . import actions as A
from .base import Controller, apply_all
from .endpoints import node_address
from .loadbalancer import node_ready, ready_node_ingress
from .objutil import Obj, is_deleting, key_of, name_of, namespace_of


def reconcile(ing: Obj, classes: list[Obj], nodes: list[Obj]) -> A.Result:
    """The status patch that brings an Ingress's load balancer addresses in step."""
    res = A.Result()
    if not served_by(ing, classes, KUBELAB_INGRESS_CONTROLLER):
        return res
    want = ready_node_ingress(nodes)
    have = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if want != have:
        res.actions.append(
            A.patch(
                "ingresses",
                namespace_of(ing),
                name_of(ing),
                {"status": {"loadBalancer": {"ingress": want or None}}},
                subresource="status",
            )
        )
    return res


class IngressStatusController(Controller):
    """One key per Ingress; a node or class change looks at every Ingress again."""

    name = "ingress-status"

    def setup(self) -> None:
        self.ingresses = self.ctx.index("ingresses")
        self.classes = self.ctx.index("ingressclasses")
        self.nodes = self.ctx.index("nodes")
        self.ingresses.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
        )
        self.classes.informer.add_handler(
            on_add=lambda _c: self._all(),
            on_update=lambda _o, _n: self._all(),
            on_delete=lambda _c: self._all(),
        )
        self.nodes.informer.add_handler(
            on_add=lambda _n: self._all(),
            on_update=self._node_changed,
            on_delete=lambda _n: self._all(),
        )

    def _node_changed(self, old: Obj, new: Obj) -> None:
        # Heartbeats change a node's status all the time; only readiness and addresses
        # change an ingress.
        def facts(n: Obj) -> tuple[bool, str, bool]:
            return node_ready(n), node_address(n), is_deleting(n)

        if facts(old) != facts(new):
            self._all()

    def _all(self) -> None:
        for ing in self.ingresses.informer.list():
            self.enqueue(key_of(ing))

    async def sync(self, key: str) -> float | None:
        ing = self.ingresses.get(key)
        if ing is None or is_deleting(ing):
            return None
        res = reconcile(ing, self.classes.informer.list(), self.nodes.informer.list())
        await apply_all(self.ctx, res.actions)
        return None
