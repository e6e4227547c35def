"""discovery.k8s.io/v1 EndpointSlice: a Service's endpoints, as current clients and DNS
servers read them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel
from api.models.meta import ObjectMeta, ObjectReference


class EndpointConditions(K8sModel):
    ready: bool | None = None
    serving: bool | None = None
    terminating: bool | None = None


class EndpointHints(K8sModel):
    for_zones: list[dict[str, str]] | None = None
    for_nodes: list[dict[str, str]] | None = None


class Endpoint(K8sModel):
    addresses: list[str]
    conditions: EndpointConditions | None = None
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None
    deprecated_topology: dict[str, str] | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    protocol: str | None = None
    port: int | None = None
    app_protocol: str | None = None


class EndpointSlice(K8sModel):
    api_version: Literal["discovery.k8s.io/v1"] = "discovery.k8s.io/v1"
    kind: Literal["EndpointSlice"] = "EndpointSlice"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    address_type: str
    endpoints: list[Endpoint] | None = None
    ports: list[EndpointPort] | None = None
