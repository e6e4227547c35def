"""One pod as an endpoint of a Service, the shape both the Endpoints and the
EndpointSlices are built from (controllers/endpoints.py ``pod_endpoints``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True)
class PodEndpoint:
    """One pod as an endpoint of a Service: what both the Endpoints and the EndpointSlice
    say of it (Kubernetes' podToEndpoint)."""

    ip: str
    ports: tuple[tuple[str, int, str], ...]  # (Service port name, port, protocol)
    ready: bool  # ready, or publishNotReadyAddresses; never while terminating without it
    serving: bool  # the pod's own readiness, terminating or not
    terminating: bool
    target_ref: Obj
    node_name: str
    hostname: str
