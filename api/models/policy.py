"""policy/v1 PodDisruptionBudget: how many of a set of pods may be down at once by choice
(evictions, drains), kept honest by the disruption controller."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import IntOrString, K8sModel, Time
from api.models.meta import Condition, LabelSelector, ObjectMeta


class PodDisruptionBudgetSpec(K8sModel):
    min_available: IntOrString | None = None
    max_unavailable: IntOrString | None = None
    selector: LabelSelector | None = None
    unhealthy_pod_eviction_policy: str | None = None


class PodDisruptionBudgetStatus(K8sModel):
    observed_generation: int | None = None
    # Pods evicted but not yet seen going away: name -> eviction time.
    disrupted_pods: dict[str, Time] | None = None
    disruptions_allowed: int = 0
    current_healthy: int = 0
    desired_healthy: int = 0
    expected_pods: int = 0
    conditions: list[Condition] | None = None


class PodDisruptionBudget(K8sModel):
    api_version: Literal["policy/v1"] = "policy/v1"
    kind: Literal["PodDisruptionBudget"] = "PodDisruptionBudget"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodDisruptionBudgetSpec | None = None
    status: PodDisruptionBudgetStatus | None = None
