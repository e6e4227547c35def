"""Storage kinds: core/v1 PersistentVolume and PersistentVolumeClaim, storage.k8s.io/v1
StorageClass. A claim asks for storage, a volume is a piece of it, a class says how new
volumes are made (the PV controller binds the first two and provisions for the third)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.models.base import K8sModel, Quantity, Time
from api.models.meta import Condition, LabelSelector, ObjectMeta, ObjectReference
from api.models.pod import NodeSelector


class TypedLocalObjectReference(K8sModel):
    api_group: str | None = None
    kind: str
    name: str


class VolumeResourceRequirements(K8sModel):
    limits: dict[str, Quantity] | None = None
    requests: dict[str, Quantity] | None = None


class PersistentVolumeClaimSpec(K8sModel):
    access_modes: list[str] | None = None
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements | None = None
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: str | None = None
    data_source: TypedLocalObjectReference | None = None
    data_source_ref: Any = None
    volume_attributes_class_name: str | None = None


class PersistentVolumeClaimStatus(K8sModel):
    phase: str | None = None
    access_modes: list[str] | None = None
    capacity: dict[str, Quantity] | None = None
    conditions: list[Condition] | None = None
    allocated_resources: dict[str, Quantity] | None = None
    allocated_resource_statuses: dict[str, str] | None = None


class PersistentVolumeClaim(K8sModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["PersistentVolumeClaim"] = "PersistentVolumeClaim"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PersistentVolumeClaimSpec | None = None
    status: PersistentVolumeClaimStatus | None = None


class LocalVolumeSource(K8sModel):
    path: str
    fs_type: str | None = None


class PVHostPathVolumeSource(K8sModel):
    path: str
    type: str | None = None


class VolumeNodeAffinity(K8sModel):
    required: NodeSelector | None = None


class PersistentVolumeSpec(K8sModel):
    capacity: dict[str, Quantity] | None = None
    access_modes: list[str] | None = None
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: str | None = None
    storage_class_name: str | None = None
    mount_options: list[str] | None = None
    volume_mode: str | None = None
    node_affinity: VolumeNodeAffinity | None = None
    volume_attributes_class_name: str | None = None
    # The volume sources kubelab's kubelet mounts; other sources are kept as sent.
    local: LocalVolumeSource | None = None
    host_path: PVHostPathVolumeSource | None = None
    nfs: Any = None
    csi: Any = None


class PersistentVolumeStatus(K8sModel):
    phase: str | None = None
    message: str | None = None
    reason: str | None = None
    last_phase_transition_time: Time | None = None


class PersistentVolume(K8sModel):
    api_version: Literal["v1"] = "v1"
    kind: Literal["PersistentVolume"] = "PersistentVolume"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PersistentVolumeSpec | None = None
    status: PersistentVolumeStatus | None = None


class TopologySelectorLabelRequirement(K8sModel):
    key: str
    values: list[str]


class TopologySelectorTerm(K8sModel):
    match_label_expressions: list[TopologySelectorLabelRequirement] | None = None


class StorageClass(K8sModel):
    """Cluster-scoped; has no spec: its fields sit at the top level, as upstream."""

    api_version: Literal["storage.k8s.io/v1"] = "storage.k8s.io/v1"
    kind: Literal["StorageClass"] = "StorageClass"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    provisioner: str
    parameters: dict[str, str] | None = None
    reclaim_policy: str | None = None
    mount_options: list[str] | None = None
    allow_volume_expansion: bool | None = None
    volume_binding_mode: str | None = None
    allowed_topologies: list[TopologySelectorTerm] | None = None
