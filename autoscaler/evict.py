"""Draining a box: one Eviction per pod (policy/v1), which the apiserver refuses with 429
while a PodDisruptionBudget allows no disruption; the drain asks again on its next step."""

from __future__ import annotations

import logging
from typing import Any

from api.errors import ApiError
from client import AsyncClient

log = logging.getLogger("autoscaler")
Obj = dict[str, Any]


def eviction(pod: Obj) -> Obj:
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace") or "default"
    return {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": meta.get("name", ""), "namespace": ns},
    }


async def evict(client: AsyncClient, pod: Obj) -> bool:
    """Ask to evict ``pod``; True when accepted (or it is gone), False when refused."""
    body = eviction(pod)
    ns, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        await client.create("pods", body, ns, subresource="eviction", name=name)
    except ApiError as exc:  # 429: a PodDisruptionBudget says not now; 404: already gone
        if exc.code == 404:
            return True
        if exc.code != 429:
            log.warning("evicting %s/%s: %s", ns, name, exc)
        return False
    return True
