"""apps/v1 DaemonSet and ControllerRevision (the history DaemonSets and StatefulSets keep),
core/v1 ReplicationController and batch/v1 CronJob."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.models.base import IntOrString, K8sModel, Time
from api.models.batch import JobSpec
from api.models.meta import Condition, LabelSelector, ObjectMeta
from api.models.pod import PodTemplateSpec


class RollingUpdateDaemonSet(K8sModel):
    max_unavailable: IntOrString | None = None
    max_surge: IntOrString | None = None


class DaemonSetUpdateStrategy(K8sModel):
    type: str | None = None
    rolling_update: RollingUpdateDaemonSet | None = None


class DaemonSetSpec(K8sModel):
    selector: LabelSelector
    template: PodTemplateSpec
    update_strategy: DaemonSetUpdateStrategy | None = None
    min_ready_seconds: int | None = None
    revision_history_limit: int | None = None


class DaemonSetStatus(K8sModel):
    current_number_scheduled: int = 0
    number_misscheduled: int = 0
    desired_number_scheduled: int = 0
    number_ready: int = 0
    observed_generation: int | None = None
    updated_number_scheduled: int | None = None
    number_available: int | None = None
    number_unavailable: int | None = None
    collision_count: int | None = None
    conditions: list[Condition] | None = None


class DaemonSet(K8sModel):
    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["DaemonSet"] = "DaemonSet"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: DaemonSetSpec | None = None
    status: DaemonSetStatus | None = None


class ControllerRevision(K8sModel):
    """An immutable snapshot of a controller's template (``data``) at one ``revision``."""

    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["ControllerRevision"] = "ControllerRevision"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    data: dict[str, Any] | None = None
    revision: int


class ReplicationControllerSpec(K8sModel):
    replicas: int | None = None
    min_ready_seconds: int | None = None
    selector: dict[str, str] | None = None
    template: PodTemplateSpec | None = None


class ReplicationControllerStatus(K8sModel):
    replicas: int
    fully_labeled_replicas: int | None = None
    ready_replicas: int | None = None
    available_replicas: int | None = None
    observed_generation: int | None = None
    conditions: list[Condition] | None = None


class ReplicationController(K8sModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["ReplicationController"] = "ReplicationController"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ReplicationControllerSpec | None = None
    status: ReplicationControllerStatus | None = None


class JobTemplateSpec(K8sModel):
    metadata: ObjectMeta | None = None
    spec: JobSpec | None = None


class CronJobSpec(K8sModel):
    schedule: str
    time_zone: str | None = None
    starting_deadline_seconds: int | None = None
    concurrency_policy: str | None = None
    suspend: bool | None = None
    job_template: JobTemplateSpec
    successful_jobs_history_limit: int | None = None
    failed_jobs_history_limit: int | None = None


class ObjectReference(K8sModel):
    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None


class CronJobStatus(K8sModel):
    active: list[ObjectReference] | None = None
    last_schedule_time: Time | None = None
    last_successful_time: Time | None = None


class CronJob(K8sModel):
    api_version: Literal["batch/v1"] = "batch/v1"
    kind: Literal["CronJob"] = "CronJob"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CronJobSpec | None = None
    status: CronJobStatus | None = None
