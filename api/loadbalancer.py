"""What the kubelet's Service proxy and the load-balancer controller share: the Node
annotation through which a node says which LoadBalancer Services it cannot serve."""

from __future__ import annotations

from typing import Any

# On a Node: the LoadBalancer Services ("ns/name", comma-separated) whose port that node's
# proxy cannot bind; the controller leaves the node out of their status.loadBalancer.ingress.
LB_UNAVAILABLE_ANNOTATION = "kubelab.io/lb-ports-unavailable"


def unavailable_on(node: dict[str, Any]) -> set[str]:
    """The Services a node has said it cannot serve on their load balancer port."""
    raw = ((node.get("metadata") or {}).get("annotations") or {}).get(LB_UNAVAILABLE_ANNOTATION)
    return {s for s in str(raw or "").split(",") if s}
