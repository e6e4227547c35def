"""A node's own address on its pod bridge: the first host of ``Node.spec.podCIDR``
(kubelet/podnet.py gives the bridge that address). Every pod of the node reaches it and
the LAN does not route to it, so node-local servers that pods must reach (cluster DNS,
the apiserver of ``kubelab up``) listen there."""

from __future__ import annotations

import ipaddress
from typing import Any


def gateway_of(pod_cidr: str) -> str:
    """The subnet's first host address (the bridge's)."""
    return str(next(ipaddress.ip_network(pod_cidr, strict=False).hosts()))


def node_pod_cidr(node: dict[str, Any]) -> str:
    """The Node's podCIDR ("" while it has none)."""
    spec = node.get("spec") or {}
    cidrs = spec.get("podCIDRs") or []
    return str(spec.get("podCIDR") or (cidrs[0] if isinstance(cidrs, list) and cidrs else ""))
