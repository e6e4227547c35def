"""Routes between the nodes' pod subnets (flannel's host-gw idea), and the safety routes.

Each box routes every peer node's podCIDR via that node's InternalIP, which works when the
boxes share one network segment (the one requirement of host-gw: the next hop must be
directly reachable). Unreachable routes for the whole cluster CIDR and service CIDR are
installed at start: the local bridge's connected route and the peer routes are more
specific and win, and anything else addressed to those ranges fails at once instead of
leaving the box by the default route.

``desired_routes`` decides, from the nodes, which routes this box should have; a
``RouteBackend`` programs them. ``HostGwBackend`` is the one implementation (kernel routes
through pyroute2, marked with their own protocol number so only ours are ever listed,
changed or removed); an encrypted backend (WireGuard peers whose allowed IPs are the peer
subnets) would implement the same two methods.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

# rtm_protocol of the routes kubelab programs (unassigned in iproute2's rt_protos).
ROUTE_PROTO = 76
RTN_UNICAST, RTN_UNREACHABLE = 1, 7
UNREACHABLE = "unreachable"


@dataclass(frozen=True, order=True)
class Route:
    """One route: ``dst`` via ``via`` (a peer node), or unreachable (``via`` is "")."""

    dst: str
    via: str = ""
    kind: str = "unicast"  # or UNREACHABLE


def _node_cidr(node: Mapping[str, Any]) -> str:
    spec = node.get("spec") or {}
    cidrs = spec.get("podCIDRs") or []
    return str(spec.get("podCIDR") or (cidrs[0] if cidrs else ""))


def _internal_ip(node: Mapping[str, Any]) -> str:
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP" and a.get("address"):
            return str(a["address"])
    return ""


def desired_routes(
    *,
    node: str,
    nodes: Iterable[Mapping[str, Any]],
    safety_cidrs: Iterable[str],
    local_subnets: Collection[str],
    local_addresses: Collection[str],
) -> list[Route]:
    """The routes this box should have: unreachable ones for ``safety_cidrs`` (the cluster
    and service ranges), and one to each peer node's podCIDR via its InternalIP.

    A peer whose subnet is on a bridge of this box (a second kubelet on this machine) needs
    no route: the bridge's own route reaches it. A peer whose InternalIP is this box's own
    address, or a loopback one, cannot be a next hop and gets none either."""
    routes = {Route(str(ipaddress.ip_network(c)), kind=UNREACHABLE) for c in safety_cidrs}
    local = {str(ipaddress.ip_network(s, strict=False)) for s in local_subnets}
    for n in nodes:
        if (n.get("metadata") or {}).get("name") == node:
            continue
        cidr, via = _node_cidr(n), _internal_ip(n)
        if not cidr or not via:
            continue
        try:
            dst = str(ipaddress.ip_network(cidr, strict=False))
            hop = ipaddress.ip_address(via)
        except ValueError:
            continue
        if dst in local or via in local_addresses or hop.is_loopback:
            continue
        routes.add(Route(dst, via))
    return sorted(routes)


class RouteBackend(Protocol):
    """Programs a set of routes on this box (replacing the ones it programmed before)."""

    name: str

    async def apply(self, routes: list[Route]) -> None:
        """Make the box's routes of this backend exactly ``routes``."""
        ...

    async def cleanup(self, keep: Collection[Route] = ()) -> None:
        """Remove this backend's routes but ``keep``."""
        ...


class HostGwBackend:
    """Kernel routes (main table) through pyroute2, within ``scope`` (the cluster's ranges:
    another cluster's kubelet on this box programs its own ranges, and neither touches
    the other's); ``netns`` programs a network namespace instead of the host's (tests)."""

    name = "host-gw"

    def __init__(self, scope: Iterable[str], netns: str | None = None) -> None:
        self.scope = [ipaddress.ip_network(c) for c in scope]
        self.netns = netns

    def _in_scope(self, dst: str) -> bool:
        net = ipaddress.ip_network(dst, strict=False)
        return any(
            isinstance(net, ipaddress.IPv4Network)
            and isinstance(s, ipaddress.IPv4Network)
            and net.subnet_of(s)
            for s in self.scope
        )

    def _ipr(self) -> Any:
        from pyroute2 import IPRoute, NetNS

        return NetNS(self.netns) if self.netns else IPRoute()

    def _current_sync(self) -> set[Route]:
        out: set[Route] = set()
        with self._ipr() as ipr:
            for r in ipr.get_routes(family=socket.AF_INET, proto=ROUTE_PROTO):
                dst = f"{r.get('dst')}/{r['dst_len']}"
                if not self._in_scope(dst):
                    continue
                if r["type"] == RTN_UNREACHABLE:
                    out.add(Route(dst, kind=UNREACHABLE))
                elif r["type"] == RTN_UNICAST:
                    out.add(Route(dst, str(r.get("gateway") or "")))
        return out

    def current(self) -> set[Route]:
        """The routes this backend has on the box now."""
        return self._current_sync()

    def _apply_sync(self, routes: list[Route], remove_others: bool) -> None:
        have = self._current_sync()
        with self._ipr() as ipr:
            if remove_others:
                for r in sorted(have - set(routes)):
                    self._delete(ipr, r)
            for r in routes:
                if r in have:
                    continue
                if r.kind == UNREACHABLE:
                    ipr.route("replace", dst=r.dst, type=UNREACHABLE, proto=ROUTE_PROTO)
                else:
                    ipr.route("replace", dst=r.dst, gateway=r.via, proto=ROUTE_PROTO)

    @staticmethod
    def _delete(ipr: Any, r: Route) -> None:
        from pyroute2 import NetlinkError

        try:
            if r.kind == UNREACHABLE:
                ipr.route("del", dst=r.dst, type=UNREACHABLE, proto=ROUTE_PROTO)
            else:
                ipr.route("del", dst=r.dst, gateway=r.via, proto=ROUTE_PROTO)
        except NetlinkError as e:
            if e.code != 3:  # ESRCH: gone already
                raise

    async def apply(self, routes: list[Route]) -> None:
        await asyncio.to_thread(self._apply_sync, routes, True)

    async def cleanup(self, keep: Collection[Route] = ()) -> None:
        def run() -> None:
            with self._ipr() as ipr:
                for r in sorted(self._current_sync() - set(keep)):
                    self._delete(ipr, r)

        await asyncio.to_thread(run)


def local_networks(netns: str | None = None) -> tuple[set[str], set[str]]:
    """This box's (subnets of its interfaces' addresses, the addresses themselves)."""
    from pyroute2 import IPRoute, NetNS

    subnets: set[str] = set()
    addresses: set[str] = set()
    with NetNS(netns) if netns else IPRoute() as ipr:
        for a in ipr.get_addr(family=socket.AF_INET):
            ip = str(a.get("address"))
            addresses.add(ip)
            subnets.add(str(ipaddress.ip_network(f"{ip}/{a['prefixlen']}", strict=False)))
    return subnets, addresses
