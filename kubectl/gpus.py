"""Who holds which GPU: node ``status.gpus`` joined with the pods' ``kubelab.io/gpu-uuids``."""

from __future__ import annotations

import json
from typing import Any

from api.gpus import GPU_RESOURCE

GPU_UUIDS = "kubelab.io/gpu-uuids"
SCHEDULING_REASONS = "kubelab.io/scheduling-reasons"


def pod_gpu_uuids(pod: dict[str, Any]) -> list[str]:
    """The GPU UUIDs bound to a pod (empty when none)."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(GPU_UUIDS) or ""
    return [u.strip() for u in text.split(",") if u.strip()]


def pod_is_live(pod: dict[str, Any]) -> bool:
    """Whether a pod still holds its resources (not finished)."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


def holders(pods: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(node, uuid) → the live pod holding that GPU."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for p in pods:
        node = (p.get("spec") or {}).get("nodeName")
        if not node or not pod_is_live(p):
            continue
        for u in pod_gpu_uuids(p):
            out[(node, u)] = p
    return out


def node_gpus(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The node's ``status.gpus`` entries, by index."""
    gpus = (node.get("status") or {}).get("gpus") or []
    return sorted((g for g in gpus if isinstance(g, dict)), key=lambda g: int(g.get("index", 0)))


def pod_key(pod: dict[str, Any]) -> str:
    m = pod.get("metadata") or {}
    return f"{m.get('namespace', '')}/{m.get('name', '')}"


def pod_gpu_request(pod: dict[str, Any]) -> int:
    """GPUs a pod asks for: the sum over its containers (limits, else requests)."""
    total = 0
    for c in (pod.get("spec") or {}).get("containers") or []:
        res = c.get("resources") or {}
        value = (res.get("limits") or {}).get(GPU_RESOURCE) or (res.get("requests") or {}).get(
            GPU_RESOURCE
        )
        try:
            total += int(str(value)) if value is not None else 0
        except ValueError:
            pass
    return total


def scheduling_reasons(pod: dict[str, Any]) -> dict[str, Any] | None:
    """The scheduler's explanation recorded on a pending pod, or None."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(SCHEDULING_REASONS)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return {"summary": str(text)}
    return value if isinstance(value, dict) else {"summary": str(value)}


def mib(value: Any) -> str:
    """MiB as a short human size: ``81920`` → ``80Gi``, ``512`` → ``512Mi``."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return "-"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}Gi"
    if n >= 1024:
        return f"{n / 1024:.1f}Gi"
    return f"{n}Mi"
