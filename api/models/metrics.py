"""metrics.k8s.io/v1beta1 NodeMetrics and PodMetrics, and custom.metrics.k8s.io/v1beta2
MetricValueList: measured usage (never stored; apiserver/metrics_api.py and
custom_metrics_api.py answer them)."""

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


class MetricIdentifier(K8sModel):
    name: str
    selector: dict[str, object] | None = None


class MetricValue(K8sModel):
    described_object: dict[str, str] = Field(default_factory=dict, alias="describedObject")
    metric: MetricIdentifier
    timestamp: str | None = None
    window_seconds: int | None = Field(default=None, alias="windowSeconds")
    value: str


class MetricValueList(K8sModel):
    api_version: Literal["custom.metrics.k8s.io/v1beta2"] = "custom.metrics.k8s.io/v1beta2"
    kind: Literal["MetricValueList"] = "MetricValueList"
    metadata: dict[str, str] = Field(default_factory=dict)
    items: list[MetricValue] = Field(default_factory=list)
