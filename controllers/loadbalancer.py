"""Load-balancer controller: a LoadBalancer Service's ``status.loadBalancer.ingress`` is
the address of every Ready node, as k3s' ServiceLB publishes it, since every node's proxy
serves the Service's ``port`` on its own address (kubelet/proxy.py). A node whose proxy
cannot bind that port says so in its Node annotation (``api.loadbalancer``) and is left
out until it can; with no node left, the ingress is empty and a Warning event says why.

Nodes on the fake runtime are listed like any other: a real cluster would show their
addresses, and tools that wait for an ingress (``helm --wait``, ``kubectl wait``) finish;
their proxies already say on the Service (the ``NotServed`` event) that nothing listens.
``desired_ingress`` is pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from api.loadbalancer import unavailable_on

from . import actions as A
from .base import Controller, apply_all
from .endpoints import node_address
from .objutil import Obj, get_condition, is_deleting, key_of, name_of, namespace_of


def _ingress_entry(address: str) -> Obj:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"hostname": address}
    return {"ip": address}


def node_ready(node: Obj) -> bool:
    cond = get_condition(node, "Ready") or {}
    return cond.get("status") == "True"


def ready_node_ingress(nodes: Iterable[Obj]) -> list[Obj]:
    """One ingress entry (``ip`` or ``hostname``) per distinct address of the Ready nodes
    among ``nodes``, in address order: what a LoadBalancer Service and an Ingress served
    by every node's router publish."""
    addresses = {node_address(n) for n in nodes if node_ready(n) and not is_deleting(n)}
    return [_ingress_entry(a) for a in sorted(a for a in addresses if a)]


def desired_ingress(svc: Obj, nodes: Iterable[Obj]) -> list[Obj]:
    """The ingress list of a LoadBalancer Service: one entry per distinct address of the
    Ready nodes that can serve it, in address order ([] for other types)."""
    if ((svc.get("spec") or {}).get("type") or "ClusterIP") != "LoadBalancer":
        return []
    key = key_of(svc)
    return ready_node_ingress(n for n in nodes if key not in unavailable_on(n))


def blocked_nodes(svc: Obj, nodes: Iterable[Obj]) -> list[str]:
    """The Ready nodes whose proxy said it cannot bind this Service's port."""
    key = key_of(svc)
    return sorted(name_of(n) for n in nodes if node_ready(n) and key in unavailable_on(n))


def reconcile(svc: Obj, nodes: list[Obj]) -> A.Result:
    """The status patch that brings the Service's ingress in step, and a Warning when
    Ready nodes exist but none can serve it."""
    res = A.Result()
    spec = svc.get("spec") or {}
    if spec.get("loadBalancerClass"):
        return res  # another load balancer implementation's Service, as ServiceLB leaves it
    want = desired_ingress(svc, nodes)
    have = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if want != have:
        lb: Obj = {"ingress": want} if want else {"ingress": None}
        res.actions.append(
            A.patch(
                "services",
                namespace_of(svc),
                name_of(svc),
                {"status": {"loadBalancer": lb}},
                subresource="status",
            )
        )
    blocked = blocked_nodes(svc, nodes) if spec.get("type") == "LoadBalancer" else []
    if not want and blocked:
        res.actions.append(
            A.event(
                {**svc, "apiVersion": "v1", "kind": "Service"},
                "Warning",
                "NoLoadBalancerNodes",
                f"no Ready node can serve this Service's load balancer ports (node "
                f"{', '.join(blocked)}: see the LoadBalancerPortUnavailable events), so "
                "status.loadBalancer.ingress is empty",
            )
        )
    return res


class LoadBalancerController(Controller):
    """One key per Service; any Node change looks at every LoadBalancer Service again."""

    name = "loadbalancer"

    def setup(self) -> None:
        self.services = self.ctx.index("services")
        self.nodes = self.ctx.index("nodes")
        self.services.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
        )
        self.nodes.informer.add_handler(
            on_add=lambda _n: self._all_balancers(),
            on_update=self._node_changed,
            on_delete=lambda _n: self._all_balancers(),
        )

    def _node_changed(self, old: Obj, new: Obj) -> None:
        # Heartbeats change a node's status all the time; only readiness, addresses and
        # the proxy's annotation change an ingress.
        def facts(n: Obj) -> tuple[bool, str, frozenset[str], bool]:
            return node_ready(n), node_address(n), frozenset(unavailable_on(n)), is_deleting(n)

        if facts(old) != facts(new):
            self._all_balancers()

    def _all_balancers(self) -> None:
        for svc in self.services.informer.list():
            if (svc.get("spec") or {}).get("type") == "LoadBalancer" or (
                (svc.get("status") or {}).get("loadBalancer") or {}
            ).get("ingress"):
                self.enqueue(key_of(svc))

    async def sync(self, key: str) -> float | None:
        svc = self.services.get(key)
        if svc is None or is_deleting(svc):
            return None
        svc = self.ctx.overlay.latest("services", svc)
        res = reconcile(svc, self.nodes.informer.list())
        await apply_all(self.ctx, res.actions)
        return None
