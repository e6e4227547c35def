"""autoscaling/v2 HorizontalPodAutoscaler: keeps a scalable object's replicas in step with
the usage its pods report (the HPA controller, controllers/hpa)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel, Quantity, Time
from api.models.meta import LabelSelector, ObjectMeta


class CrossVersionObjectReference(K8sModel):
    kind: str = ""
    name: str = ""
    api_version: str | None = None


class MetricTarget(K8sModel):
    type: str = ""  # Utilization | Value | AverageValue
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: int | None = None


class MetricIdentifier(K8sModel):
    name: str = ""
    selector: LabelSelector | None = None


class ResourceMetricSource(K8sModel):
    name: str = ""
    target: MetricTarget = Field(default_factory=MetricTarget)


class ContainerResourceMetricSource(K8sModel):
    name: str = ""
    container: str = ""
    target: MetricTarget = Field(default_factory=MetricTarget)


class PodsMetricSource(K8sModel):
    metric: MetricIdentifier = Field(default_factory=MetricIdentifier)
    target: MetricTarget = Field(default_factory=MetricTarget)


class ObjectMetricSource(K8sModel):
    described_object: CrossVersionObjectReference = Field(
        default_factory=CrossVersionObjectReference
    )
    metric: MetricIdentifier = Field(default_factory=MetricIdentifier)
    target: MetricTarget = Field(default_factory=MetricTarget)


class ExternalMetricSource(K8sModel):
    metric: MetricIdentifier = Field(default_factory=MetricIdentifier)
    target: MetricTarget = Field(default_factory=MetricTarget)


class MetricSpec(K8sModel):
    type: str = ""  # Resource | ContainerResource | Pods | Object | External
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = None
    pods: PodsMetricSource | None = None
    object: ObjectMetricSource | None = None
    external: ExternalMetricSource | None = None


class HPAScalingPolicy(K8sModel):
    type: str = ""  # Pods | Percent
    value: int = 0
    period_seconds: int = 0


class HPAScalingRules(K8sModel):
    stabilization_window_seconds: int | None = None
    select_policy: str | None = None  # Max | Min | Disabled
    policies: list[HPAScalingPolicy] | None = None


class HorizontalPodAutoscalerBehavior(K8sModel):
    scale_up: HPAScalingRules | None = None
    scale_down: HPAScalingRules | None = None


class HorizontalPodAutoscalerSpec(K8sModel):
    scale_target_ref: CrossVersionObjectReference = Field(
        default_factory=CrossVersionObjectReference
    )
    min_replicas: int | None = None
    max_replicas: int = 0
    metrics: list[MetricSpec] | None = None
    behavior: HorizontalPodAutoscalerBehavior | None = None


class MetricValueStatus(K8sModel):
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: int | None = None


class ResourceMetricStatus(K8sModel):
    name: str = ""
    current: MetricValueStatus = Field(default_factory=MetricValueStatus)


class ContainerResourceMetricStatus(K8sModel):
    name: str = ""
    container: str = ""
    current: MetricValueStatus = Field(default_factory=MetricValueStatus)


class PodsMetricStatus(K8sModel):
    metric: MetricIdentifier = Field(default_factory=MetricIdentifier)
    current: MetricValueStatus = Field(default_factory=MetricValueStatus)


class MetricStatus(K8sModel):
    type: str = ""
    resource: ResourceMetricStatus | None = None
    container_resource: ContainerResourceMetricStatus | None = None
    pods: PodsMetricStatus | None = None


class HorizontalPodAutoscalerCondition(K8sModel):
    type: str = ""
    status: str = ""
    last_transition_time: Time | None = None
    reason: str | None = None
    message: str | None = None


class HorizontalPodAutoscalerStatus(K8sModel):
    observed_generation: int | None = None
    last_scale_time: Time | None = None
    current_replicas: int = 0
    desired_replicas: int = 0
    current_metrics: list[MetricStatus] | None = None
    conditions: list[HorizontalPodAutoscalerCondition] | None = None


class HorizontalPodAutoscaler(K8sModel):
    api_version: Literal["autoscaling/v2"] = "autoscaling/v2"
    kind: Literal["HorizontalPodAutoscaler"] = "HorizontalPodAutoscaler"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: HorizontalPodAutoscalerSpec | None = None
    status: HorizontalPodAutoscalerStatus | None = None
