"""How a node's GPUs are summed up in one table cell (``2xNVIDIA-H100-80GB-HBM3``), the
same in the apiserver's Table (what kubectl prints) and in ``kl get nodes -o wide``."""

from __future__ import annotations

import re
from typing import Any

PRODUCT_LABEL = "nvidia.com/gpu.product"
# Whole GPUs, as the NVIDIA device plugin names them.
GPU_RESOURCE = "nvidia.com/gpu"
# Part of one GPU, by memory (bytes as a quantity: "10Gi"): pods asking for it share a
# device with others, packed by declared memory (kubelab extension; no MIG needed).
GPU_MEMORY_RESOURCE = "kubelab.io/gpu-memory"


def shares_gpu(pod: dict[str, Any]) -> bool:
    """Whether the pod asks for part of a GPU (``kubelab.io/gpu-memory``) rather than
    whole ones: such pods may be bound to a device other sharers hold."""
    spec = pod.get("spec") or {}
    for c in (*(spec.get("containers") or ()), *(spec.get("initContainers") or ())):
        res = (c or {}).get("resources") or {}
        if GPU_MEMORY_RESOURCE in ((res.get("limits") or {}) | (res.get("requests") or {})):
            return True
    return False


def _model_word(model: str) -> str:
    """A model name as one word of a table cell: spaces become dashes, as in the
    ``nvidia.com/gpu.product`` label the kubelet derives from it."""
    return re.sub(r"[^A-Za-z0-9_.-]", "", model.strip().replace(" ", "-")) or "GPU"


def node_gpu_summary(node: dict[str, Any]) -> str:
    """``COUNTxMODEL`` per model from ``status.gpus`` (a model missing there comes from
    the product label), with ``(N unhealthy)``; else the ``nvidia.com/gpu`` capacity;
    ``<none>`` for a node without GPUs."""
    status = node.get("status") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    product = labels.get(PRODUCT_LABEL)
    gpus = [g for g in status.get("gpus") or [] if isinstance(g, dict)]
    if gpus:
        models: dict[str, int] = {}
        for g in gpus:
            model = _model_word(str(g.get("model") or product or "GPU"))
            models[model] = models.get(model, 0) + 1
        text = ",".join(f"{n}x{m}" for m, n in models.items())
        unhealthy = sum(1 for g in gpus if str(g.get("health") or "Healthy") != "Healthy")
        return f"{text} ({unhealthy} unhealthy)" if unhealthy else text
    count = str((status.get("capacity") or {}).get("nvidia.com/gpu") or "").strip()
    if count in ("", "0"):
        return "<none>"
    return f"{count}x{_model_word(str(product))}" if product else count
