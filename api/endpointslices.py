"""What every layer says of discovery.k8s.io/v1 EndpointSlices: the labels that tie a
slice to its Service and its manager, and how kubectl prints its ports and endpoints
(upstream formatDiscoveryPorts / formatDiscoveryEndpoints / listWithMoreString). Pure."""

from __future__ import annotations

from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"  # the endpoints controller's slices
# Slices mirrored from the hand-written Endpoints of a Service without a selector.
MIRROR_MANAGED_BY = "endpointslicemirroring-controller.k8s.io"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
HEADLESS_LABEL = "service.kubernetes.io/headless"
_SHOWN = 3


def _list_with_more(items: list[str]) -> str:
    """Three items, then `` + N more...``; ``<unset>`` for none."""
    text = ",".join(items[:_SHOWN])
    if len(items) > _SHOWN:
        return f"{text} + {len(items) - _SHOWN} more..."
    return text or "<unset>"


def format_ports(ports: list[Any]) -> str:
    """Each port's number, else its name, else ``*``."""
    shown = []
    for p in ports:
        p = p if isinstance(p, dict) else {}
        shown.append(str(p["port"]) if p.get("port") is not None else str(p.get("name") or "*"))
    return _list_with_more(shown)


def format_endpoints(endpoints: list[Any]) -> str:
    """Every address of every endpoint."""
    return _list_with_more(
        [str(a) for ep in endpoints if isinstance(ep, dict) for a in ep.get("addresses") or []]
    )
