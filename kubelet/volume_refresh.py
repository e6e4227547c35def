"""Keeping the ConfigMap and Secret volumes of a running pod current: every
``volume_refresh_period`` the objects are read again and the files rewritten (each file
replaced atomically, removed keys removed), so a container sees an update within that
period, as on Kubernetes. A volume bound with ``subPath`` is a copy and stays as it was,
also as on Kubernetes."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from api.errors import ApiError
from kubelet.envvars import projected_refs
from kubelet.launch import get_optional
from kubelet.podhandle import PodHandle
from kubelet.volume_projected import TokenUnavailable, pod_tokens, token_sources
from kubelet.volumes import VolumeError, prepare_volumes

log = logging.getLogger(__name__)


def projected_sources(pod: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Names of the ConfigMaps and Secrets the pod's volumes project."""
    cms: set[str] = set()
    secrets: set[str] = set()
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        if "configMap" in vol:
            cms.add(str((vol["configMap"] or {}).get("name", "")))
        elif "secret" in vol:
            secrets.add(str((vol["secret"] or {}).get("secretName", "")))
    projected_cms, projected_secrets = projected_refs(pod)
    return cms | projected_cms, secrets | projected_secrets


async def refresh_volumes(h: PodHandle) -> None:
    """Rewrite the pod's ConfigMap and Secret volumes when the period has passed; plan
    the next wake-up. Only once a container runs: before that, starting one writes them."""
    cm_names, secret_names = projected_sources(h.pod)
    if not cm_names and not secret_names and not token_sources(h.pod):
        return
    if not any(t.current is not None and t.current.running for t in h.tracks.values()):
        return
    period = h.ctx.config.volume_refresh_period
    now = time.monotonic()
    if h.volumes_refreshed_at is None:
        h.volumes_refreshed_at = now  # written when its container started
    due = h.volumes_refreshed_at + period
    if now < due:
        h.wake_after(due - now)
        return
    h.volumes_refreshed_at = now
    h.wake_after(period)
    try:
        configmaps = {n: await get_optional(h, "configmaps", n) for n in cm_names}
        secrets = {n: await get_optional(h, "secrets", n) for n in secret_names}
        # Tokens past 80 % of their lifetime are renewed here.
        tokens = await pod_tokens(h.ctx.client, h.pod, h.tokens)
        await asyncio.to_thread(
            prepare_volumes, h.ctx.config.root_dir, h.pod, configmaps, secrets, None, tokens
        )
    except (ApiError, VolumeError, TokenUnavailable) as e:
        # The files keep their last content (Kubernetes does the same).
        log.warning("pod %s: volumes not refreshed: %s", h.key, e)
