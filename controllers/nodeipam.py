"""Node IPAM, as kube-controller-manager's ``nodeipam`` controller (range allocator).

The cluster CIDR (``--cluster-cidr``, default 10.42.0.0/16) is cut into one subnet per node
(``--node-cidr-mask-size``, default /24), recorded in ``Node.spec.podCIDR`` and
``spec.podCIDRs``; each kubelet puts its pods on a bridge for that subnet. A podCIDR, once
set, never changes (the apiserver refuses it, as Kubernetes does).

What is taken is read from the nodes themselves, so a restarted controller picks up every
existing allocation and a deleted node's subnet is free again once the node is gone. The
only memory is the allocations written but not yet seen in the cache, so that two workers
(or two quick syncs) never hand out one subnet twice. The choice is the pure
``next_free_subnet``.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Collection, Iterable

from client import ApiError

from . import actions as A
from .base import Controller, apply_action
from .objutil import Obj, name_of

DEFAULT_CLUSTER_CIDR = "10.42.0.0/16"
DEFAULT_NODE_MASK = 24


class CidrConfigError(ValueError):
    """The cluster CIDR or node mask size cannot be used; the message names the flag."""


def parse_cluster_cidr(cidr: str, node_mask: int) -> ipaddress.IPv4Network:
    """The cluster network, checked against the node mask size."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as e:
        raise CidrConfigError(f"--cluster-cidr {cidr!r} is not a network address: {e}") from e
    if not isinstance(net, ipaddress.IPv4Network):
        raise CidrConfigError(f"--cluster-cidr {cidr!r}: only IPv4 is supported")
    if not net.prefixlen < node_mask <= 30:
        raise CidrConfigError(
            f"--node-cidr-mask-size {node_mask} must be longer than the cluster CIDR's "
            f"/{net.prefixlen} and at most 30"
        )
    return net


def node_cidr(node: Obj) -> str:
    """The subnet a node holds (``spec.podCIDR``, else the first of ``podCIDRs``)."""
    spec = node.get("spec") or {}
    cidrs = spec.get("podCIDRs") or []
    return str(spec.get("podCIDR") or (cidrs[0] if cidrs else ""))


def next_free_subnet(
    cluster: ipaddress.IPv4Network, node_mask: int, taken: Collection[str]
) -> str | None:
    """The lowest ``/node_mask`` subnet of ``cluster`` that overlaps none of ``taken``
    (None: the range is full). Taken subnets outside the cluster CIDR are ignored."""
    used: list[ipaddress.IPv4Network] = []
    for t in taken:
        try:
            net = ipaddress.ip_network(t, strict=False)
        except ValueError:
            continue
        if isinstance(net, ipaddress.IPv4Network) and net.overlaps(cluster):
            used.append(net)
    for candidate in cluster.subnets(new_prefix=node_mask):
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    return None


def allocation_patch(cidr: str) -> Obj:
    """The merge patch that gives a node its subnet."""
    return {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}


class NodeIpamController(Controller):
    """One key per node."""

    name = "nodeipam"

    def setup(self) -> None:
        opts = self.ctx.options
        self.cluster = parse_cluster_cidr(opts.cluster_cidr, opts.node_cidr_mask_size)
        self.node_mask = opts.node_cidr_mask_size
        self.nodes = self.ctx.index("nodes")
        # Written, not yet in the cache: node name -> subnet.
        self.pending: dict[str, str] = {}
        self.lock = asyncio.Lock()
        self.full_reported: set[str] = set()  # nodes told the range is full (once each)
        self.nodes.informer.add_handler(
            on_add=lambda n: self.enqueue(name_of(n)),
            on_update=lambda _old, n: self.enqueue(name_of(n)),
            on_delete=self._node_gone,
        )

    def _node_gone(self, node: Obj) -> None:
        self.pending.pop(name_of(node), None)
        self.full_reported.discard(name_of(node))
        # A subnet is free again: nodes waiting for one get another look.
        for n in self.nodes.informer.list():
            if not node_cidr(n):
                self.enqueue(name_of(n))

    def _taken(self, nodes: Iterable[Obj]) -> set[str]:
        return {c for c in (node_cidr(n) for n in nodes) if c} | set(self.pending.values())

    async def sync(self, key: str) -> float | None:
        node = self.nodes.get(key)
        if node is None:
            self.pending.pop(key, None)
            return None
        if node_cidr(node):
            self.pending.pop(key, None)
            return None
        async with self.lock:
            cidr = self.pending.get(key) or next_free_subnet(
                self.cluster, self.node_mask, self._taken(self.nodes.informer.list())
            )
            if cidr is None:
                if key not in self.full_reported:
                    self.full_reported.add(key)
                    message = (
                        f"Node {key} status is now: CIDRNotAvailable (every /{self.node_mask} "
                        f"of --cluster-cidr {self.cluster} is taken; widen the range)"
                    )
                    await apply_action(
                        self.ctx, A.event(node, "Warning", "CIDRNotAvailable", message)
                    )
                return None  # a deleted node frees one and enqueues this one again
            self.pending[key] = cidr
        try:
            await apply_action(self.ctx, A.patch("nodes", None, key, allocation_patch(cidr)))
        except ApiError:
            self.pending.pop(key, None)
            raise
        self.full_reported.discard(key)
        return None
