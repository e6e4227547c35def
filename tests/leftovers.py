"""Removing what a test's Docker kubelets left on the engine and the host once they are
stopped: their containers (sandboxes included), then their pod networks (which the kubelet
removes itself only when no container uses them as it stops), then the kubelets'
unreachable routes that no bridge on this box lies in any more. A live kubelet of another
test cluster whose range route goes too puts it back at its next route sync."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

LABEL_NETWORK_SUBNET = "io.kubelab.network.subnet"


def remove_leftovers(engine: Any, *labels: str) -> None:
    """``labels`` (``key=value``, all must match) select the containers and networks: a
    node's (``io.kubelab.node=NAME``), a cluster's (``io.kubelab.cluster.uid=UID``)."""
    for c in engine.containers.list(all=True, filters={"label": list(labels)}):
        c.remove(force=True)
    subnets = []
    for n in engine.networks.list(filters={"label": list(labels)}):
        subnets.append((n.attrs.get("Labels") or {}).get(LABEL_NETWORK_SUBNET, ""))
        n.remove()
    if subnets:
        remove_unused_routes()


def remove_unused_routes() -> None:
    """The kubelets' unreachable routes that no interface of this box lies in (a kubelet
    killed, not stopped, leaves its routes); nothing without root."""
    if os.geteuid() != 0:
        return
    from pyroute2 import IPRoute

    from kubelet.routes import ROUTE_PROTO, RTN_UNREACHABLE

    with IPRoute() as ipr:
        local = [
            ipaddress.ip_network(f"{a.get('address')}/{a['prefixlen']}", strict=False)
            for a in ipr.get_addr(family=2)
        ]
        for r in ipr.get_routes(family=2, proto=ROUTE_PROTO):
            dst = ipaddress.ip_network(f"{r.get('dst')}/{r['dst_len']}")
            in_use = any(net.subnet_of(dst) for net in local if net.version == 4)  # type: ignore[arg-type]
            if r["type"] == RTN_UNREACHABLE and not in_use:
                ipr.route("del", dst=str(dst), type="unreachable", proto=ROUTE_PROTO)
