"""metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics: measured usage (never stored)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel
from api.models.meta import ObjectMeta


class NodeMetrics(K8sModel):
    api_version: Literal["metrics.k8s.io/v1beta1"] = "metrics.k8s.io/v1beta1"
    kind: Literal["NodeMetrics"] = "NodeMetrics"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    timestamp: str | None = None
    window: str | None = None
    usage: dict[str, str] | None = None


class ContainerMetrics(K8sModel):
    name: str
    usage: dict[str, str] | None = None


class PodMetrics(K8sModel):
    api_version: Literal["metrics.k8s.io/v1beta1"] = "metrics.k8s.io/v1beta1"
    kind: Literal["PodMetrics"] = "PodMetrics"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    timestamp: str | None = None
    window: str | None = None
    containers: list[ContainerMetrics] | None = None
