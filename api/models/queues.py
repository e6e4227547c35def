"""scheduling.kubelab.io/v1 Queue: a nominal share of the cluster's GPUs (and CPU and
memory) for a user or team, with borrowing of idle capacity and reclaim (docs/queues.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.models.base import K8sModel, Quantity
from api.models.meta import ObjectMeta


class QueueSpec(K8sModel):
    nominal: dict[str, Quantity] | None = None
    borrowing_limit: dict[str, Quantity] | None = None
    reclaim_grace_period_seconds: int | None = None


class Queue(K8sModel):
    """Cluster-scoped; pods name it with the label ``kubelab.io/queue``."""

    api_version: Literal["scheduling.kubelab.io/v1"] = "scheduling.kubelab.io/v1"
    kind: Literal["Queue"] = "Queue"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: QueueSpec = Field(default_factory=QueueSpec)
    # Written by the scheduler: used, borrowed, pendingPods, runningPods, fairShare, usage.
    status: dict[str, Any] | None = None
