"""scheduling.k8s.io/v1 PriorityClass: a named pod priority, resolved at admission."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.models.base import K8sModel
from api.models.meta import ObjectMeta


class PriorityClass(K8sModel):
    """Cluster-scoped; ``value`` becomes ``spec.priority`` of the pods that name it."""

    api_version: Literal["scheduling.k8s.io/v1"] = "scheduling.k8s.io/v1"
    kind: Literal["PriorityClass"] = "PriorityClass"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    value: int = 0
    global_default: bool | None = None
    description: str | None = None
    preemption_policy: str | None = None
