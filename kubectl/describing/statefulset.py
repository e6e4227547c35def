"""``kl describe statefulset``: replicas, update strategy, pods, template and claims, as
kubectl's StatefulSetDescriber prints them."""

from __future__ import annotations

from typing import Any

from api.registry import ResourceInfo
from kubectl.describing.common import annotations_section, pod_template, selector_text
from kubectl.describing.workloads import pod_phases
from kubectl.describing.writer import NONE, Page, when


def _claim_templates(page: Page, templates: list[dict[str, Any]]) -> None:
    if not templates:
        page.kv(0, "Volume Claims", NONE)
        return
    page.line(0, "Volume Claims:")
    for t in templates:
        m, spec = t.get("metadata") or {}, t.get("spec") or {}
        page.kv(1, "Name", m.get("name"))
        # kubectl prints an unset class as nothing, not <none>.
        page.line(1, "StorageClass:", spec.get("storageClassName") or "")
        page.map(1, "Labels", m.get("labels"))
        annotations_section(page, 1, m.get("annotations"))
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        page.kv(1, "Capacity", storage or NONE)
        page.kv(1, "Access Modes", f"[{' '.join(spec.get('accessModes') or [])}]")


def describe_statefulset(
    page: Page, sts: dict[str, Any], info: ResourceInfo, pods: list[dict[str, Any]]
) -> None:
    """``pods``: the pods the StatefulSet owns."""
    spec, st, m = sts.get("spec") or {}, sts.get("status") or {}, sts.get("metadata") or {}
    page.kv(0, "Name", m.get("name"))
    page.kv(0, "Namespace", m.get("namespace"))
    page.kv(0, "CreationTimestamp", when(m.get("creationTimestamp")))
    page.kv(0, "Selector", selector_text(sts))
    page.map(0, "Labels", m.get("labels"))
    annotations_section(page, 0, m.get("annotations"))
    desired = int(spec["replicas"]) if spec.get("replicas") is not None else 1
    page.kv(0, "Replicas", f"{desired} desired | {int(st.get('replicas') or 0)} total")
    strategy = spec.get("updateStrategy") or {}
    page.kv(0, "Update Strategy", strategy.get("type") or "RollingUpdate")
    ru = strategy.get("rollingUpdate") or {}
    if ru.get("partition") is not None:
        page.kv(1, "Partition", ru["partition"])
    if ru.get("maxUnavailable") is not None:
        page.kv(1, "Max Unavailable", ru["maxUnavailable"])
    page.kv(0, "Pods Status", pod_phases(pods))
    pod_template(page, 0, spec.get("template") or {})
    _claim_templates(page, spec.get("volumeClaimTemplates") or [])
