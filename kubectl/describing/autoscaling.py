"""``kl describe hpa``, line for line as kubectl's HorizontalPodAutoscalerDescriber (v2):
what it measured against each target, the limits, the behavior, and its conditions."""

from __future__ import annotations

from typing import Any

from api.hpa import metric_source
from api.registry import ResourceInfo
from kubectl.describing.common import header
from kubectl.describing.writer import Page, when


def _metric_line(page: Page, metric: dict[str, Any], status: dict[str, Any] | None) -> None:
    mtype = metric.get("type")
    if mtype == "Pods":
        src = metric_source(metric)
        cur = ((status or {}).get("pods") or {}).get("current") or {}
        want = (src.get("target") or {}).get("averageValue")
        name = (src.get("metric") or {}).get("name")
        page.line(1, f'"{name}" on pods:', f"{cur.get('averageValue') or '<unknown>'} / {want}")
        return
    if mtype not in ("Resource", "ContainerResource"):
        page.line(1, f'<unknown metric type "{mtype}">')
        return
    src = metric_source(metric)
    key = "resource" if mtype == "Resource" else "containerResource"
    cur = ((status or {}).get(key) or {}).get("current") or {}
    target = src.get("target") or {}
    what = f"resource {src.get('name')}"
    if mtype == "ContainerResource":
        what += f' of container "{src.get("container")}"'
    if target.get("averageValue") is not None:
        current = cur.get("averageValue") or "<unknown>"
        page.line(1, f"{what} on pods:", f"{current} / {target['averageValue']}")
        return
    current = "<unknown>"
    if cur.get("averageUtilization") is not None:
        current = f"{cur['averageUtilization']}% ({cur.get('averageValue', '0')})"
    want = target.get("averageUtilization")
    shown = f"{want}%" if want is not None else "<auto>"
    page.line(1, f"{what} on pods  (as a percentage of request):", f"{current} / {shown}")


def _direction(page: Page, label: str, rules: dict[str, Any] | None) -> None:
    if rules is None:
        return
    page.line(1, f"{label}:")
    if rules.get("stabilizationWindowSeconds") is not None:
        page.line(2, f"Stabilization Window: {rules['stabilizationWindowSeconds']} seconds")
    policies = rules.get("policies") or []
    if policies:
        page.line(2, f"Select Policy: {rules.get('selectPolicy') or 'Max'}")
        page.line(2, "Policies:")
        for p in policies:
            page.line(
                3,
                f"- Type: {p.get('type')}",
                f"Value: {p.get('value')}",
                f"Period: {p.get('periodSeconds')} seconds",
            )


def describe_hpa(page: Page, hpa: dict[str, Any], info: ResourceInfo) -> None:
    spec, status = hpa.get("spec") or {}, hpa.get("status") or {}
    ref = spec.get("scaleTargetRef") or {}
    header(page, hpa, info, with_created=False)  # kubectl puts it after the annotations
    page.kv(0, "CreationTimestamp", when((hpa.get("metadata") or {}).get("creationTimestamp")))
    page.kv(0, "Reference", f"{ref.get('kind')}/{ref.get('name')}")
    page.kv(0, "Metrics", "( current / target )")
    statuses = status.get("currentMetrics") or []
    for i, metric in enumerate(spec.get("metrics") or []):
        _metric_line(page, metric, statuses[i] if i < len(statuses) else None)
    min_replicas = spec.get("minReplicas")
    page.kv(0, "Min replicas", "<unset>" if min_replicas is None else min_replicas)
    page.kv(0, "Max replicas", spec.get("maxReplicas", 0))
    behavior = spec.get("behavior")
    if isinstance(behavior, dict):
        page.line(0, "Behavior:")
        _direction(page, "Scale Up", behavior.get("scaleUp"))
        _direction(page, "Scale Down", behavior.get("scaleDown"))
    page.line(
        0,
        f"{ref.get('kind')} pods:",
        f"{status.get('currentReplicas', 0)} current / {status.get('desiredReplicas', 0)} desired",
    )
    conds = status.get("conditions") or []
    if conds:
        page.line(0, "Conditions:")
        page.line(1, "Type", "Status", "Reason", "Message")
        page.line(1, "----", "------", "------", "-------")
        for c in conds:
            page.line(
                1, c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", "")
            )
