"""Mirror pods: the API's view of a process that runs on a node outside any pod worker
(Kubernetes' static pods), marked by the ``kubernetes.io/config.mirror`` annotation.
Whoever runs the process keeps its mirror pod; a kubelet never runs one, and admission
gives it no service account (``apiserver/serviceaccount_admission.py``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"


def is_mirror_pod(pod: Mapping[str, Any]) -> bool:
    """The pod stands for a process something other than a pod worker runs."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return MIRROR_ANNOTATION in annotations
