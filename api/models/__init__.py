"""Typed pydantic models of every kind kubelab serves, keyed by kind.

Hot paths work on plain dicts; these models are for typed parsing, strict
field validation and tests. ``parse(dump(m)) == m`` holds for every model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from api.models.admissionregistration import (
    MutatingWebhookConfiguration,
    ValidatingWebhookConfiguration,
)
from api.models.apiextensions import CustomResourceDefinition
from api.models.apps import Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec
from api.models.autoscaling import HorizontalPodAutoscaler
from api.models.base import K8sModel
from api.models.batch import Job, JobSpec
from api.models.certificates import CertificateSigningRequest
from api.models.container import Container, ContainerPort, EnvVar, Probe, ResourceRequirements
from api.models.coordination import Lease, LeaseSpec
from api.models.core import ConfigMap, Event, Namespace, Secret, ServiceAccount
from api.models.discovery import EndpointSlice
from api.models.meta import Condition, LabelSelector, ObjectMeta, OwnerReference
from api.models.metrics import MetricValueList, NodeMetrics, PodMetrics
from api.models.networking import Ingress, IngressClass, NetworkPolicy
from api.models.node import GPUDevice, Node, NodeSpec, NodeStatus, Taint
from api.models.pod import Pod, PodSpec, PodStatus, PodTemplateSpec, Toleration, Volume
from api.models.policy import PodDisruptionBudget
from api.models.queues import Queue
from api.models.quota import LimitRange, ResourceQuota
from api.models.rbac import ClusterRole, ClusterRoleBinding, Role, RoleBinding
from api.models.rbac_reviews import (
    LocalSubjectAccessReview,
    SelfSubjectAccessReview,
    SelfSubjectReview,
    SelfSubjectRulesReview,
    SubjectAccessReview,
    TokenReview,
)
from api.models.scheduling import PriorityClass
from api.models.service import Endpoints, Service, ServicePort, ServiceSpec
from api.models.statefulset import StatefulSet
from api.models.storage import PersistentVolume, PersistentVolumeClaim, StorageClass
from api.models.workloads import ControllerRevision, CronJob, DaemonSet, ReplicationController

MODELS: dict[str, type[BaseModel]] = {
    "Namespace": Namespace,
    "Node": Node,
    "Pod": Pod,
    "Service": Service,
    "Endpoints": Endpoints,
    "EndpointSlice": EndpointSlice,
    "ConfigMap": ConfigMap,
    "Secret": Secret,
    "Event": Event,
    "ServiceAccount": ServiceAccount,
    "Deployment": Deployment,
    "ReplicaSet": ReplicaSet,
    "StatefulSet": StatefulSet,
    "Job": Job,
    "Lease": Lease,
    "Role": Role,
    "ClusterRole": ClusterRole,
    "RoleBinding": RoleBinding,
    "ClusterRoleBinding": ClusterRoleBinding,
    "SelfSubjectReview": SelfSubjectReview,
    "TokenReview": TokenReview,
    "LocalSubjectAccessReview": LocalSubjectAccessReview,
    "SelfSubjectAccessReview": SelfSubjectAccessReview,
    "SelfSubjectRulesReview": SelfSubjectRulesReview,
    "SubjectAccessReview": SubjectAccessReview,
    "PriorityClass": PriorityClass,
    "Queue": Queue,
    "MetricValueList": MetricValueList,
    "NodeMetrics": NodeMetrics,
    "PodMetrics": PodMetrics,
    "PodDisruptionBudget": PodDisruptionBudget,
    "PersistentVolume": PersistentVolume,
    "PersistentVolumeClaim": PersistentVolumeClaim,
    "StorageClass": StorageClass,
    "DaemonSet": DaemonSet,
    "ControllerRevision": ControllerRevision,
    "CronJob": CronJob,
    "ReplicationController": ReplicationController,
    "ResourceQuota": ResourceQuota,
    "LimitRange": LimitRange,
    "Ingress": Ingress,
    "IngressClass": IngressClass,
    "NetworkPolicy": NetworkPolicy,
    "CertificateSigningRequest": CertificateSigningRequest,
    "HorizontalPodAutoscaler": HorizontalPodAutoscaler,
    "CustomResourceDefinition": CustomResourceDefinition,
    "ValidatingWebhookConfiguration": ValidatingWebhookConfiguration,
    "MutatingWebhookConfiguration": MutatingWebhookConfiguration,
}


def parse(d: Mapping[str, Any], kind: str | None = None) -> BaseModel:
    """Parse a JSON object into its model, chosen by ``kind`` (or the object's own ``kind``).

    Raises ValueError for an unknown kind and pydantic's ValidationError (a ValueError)
    for a malformed object.
    """
    k = kind or d.get("kind")
    model = MODELS.get(k) if isinstance(k, str) else None
    if model is None:
        raise ValueError(f"unknown kind {k!r}: kubelab serves {', '.join(sorted(MODELS))}")
    return model.model_validate(d)


def dump(m: BaseModel) -> dict[str, Any]:
    """The JSON form of a model: camelCase keys, fields that are None left out."""
    return m.model_dump(by_alias=True, exclude_none=True, mode="json")


__all__ = [
    "MODELS",
    "Condition",
    "ConfigMap",
    "Container",
    "ContainerPort",
    "Deployment",
    "DeploymentSpec",
    "Endpoints",
    "EnvVar",
    "Event",
    "GPUDevice",
    "Job",
    "JobSpec",
    "K8sModel",
    "LabelSelector",
    "Lease",
    "LeaseSpec",
    "Namespace",
    "Node",
    "NodeSpec",
    "NodeStatus",
    "ObjectMeta",
    "OwnerReference",
    "Pod",
    "PodSpec",
    "PodStatus",
    "PodTemplateSpec",
    "Probe",
    "ReplicaSet",
    "ReplicaSetSpec",
    "ResourceRequirements",
    "Secret",
    "Service",
    "ServiceAccount",
    "ServicePort",
    "ServiceSpec",
    "Taint",
    "Toleration",
    "Volume",
    "dump",
    "parse",
]
