"""apps/v1 StatefulSet: pods with stable names, ordinals and per-replica claims."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import IntOrString, K8sModel
from api.models.meta import Condition, LabelSelector, ObjectMeta
from api.models.pod import PodTemplateSpec
from api.models.storage import PersistentVolumeClaim


class RollingUpdateStatefulSetStrategy(K8sModel):
    partition: int | None = None
    max_unavailable: IntOrString | None = None


class StatefulSetUpdateStrategy(K8sModel):
    type: str | None = None
    rolling_update: RollingUpdateStatefulSetStrategy | None = None


class StatefulSetPersistentVolumeClaimRetentionPolicy(K8sModel):
    when_deleted: str | None = None
    when_scaled: str | None = None


class StatefulSetOrdinals(K8sModel):
    start: int | None = None


class StatefulSetSpec(K8sModel):
    replicas: int | None = None
    selector: LabelSelector
    template: PodTemplateSpec
    volume_claim_templates: list[PersistentVolumeClaim] | None = None
    service_name: str | None = None
    pod_management_policy: str | None = None
    update_strategy: StatefulSetUpdateStrategy | None = None
    revision_history_limit: int | None = None
    min_ready_seconds: int | None = None
    persistent_volume_claim_retention_policy: (
        StatefulSetPersistentVolumeClaimRetentionPolicy | None
    ) = None
    ordinals: StatefulSetOrdinals | None = None


class StatefulSetStatus(K8sModel):
    observed_generation: int | None = None
    replicas: int = 0
    ready_replicas: int | None = None
    current_replicas: int | None = None
    updated_replicas: int | None = None
    current_revision: str | None = None
    update_revision: str | None = None
    collision_count: int | None = None
    conditions: list[Condition] | None = None
    available_replicas: int | None = None


class StatefulSet(K8sModel):
    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["StatefulSet"] = "StatefulSet"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: StatefulSetSpec | None = None
    status: StatefulSetStatus | None = None
