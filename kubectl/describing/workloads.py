"""The describe pages of Deployments, ReplicaSets and Jobs."""

from __future__ import annotations

from typing import Any

from api.registry import ResourceInfo
from kubectl.describing.common import (
    annotations_section,
    conditions_table,
    controlled_by,
    header,
    pod_template,
    selector_text,
)
from kubectl.describing.writer import NONE, Page, when
from kubectl.printers.age import human_duration, parse_time
from kubectl.printers.columns import format_selector
from kubectl.rollouts import owned_replicasets, revision_of


def _rs_line(rs: dict[str, Any]) -> str:
    st, spec = rs.get("status") or {}, rs.get("spec") or {}
    return (
        f"{rs['metadata']['name']} ({int(st.get('replicas') or 0)}/"
        f"{int(spec.get('replicas') or 0)} replicas created)"
    )


def describe_deployment(
    page: Page, d: dict[str, Any], info: ResourceInfo, replicasets: list[dict[str, Any]]
) -> None:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    header(page, d, info)
    page.kv(0, "Selector", selector_text(d))
    desired = int(spec["replicas"]) if spec.get("replicas") is not None else 1
    page.kv(
        0,
        "Replicas",
        (
            f"{desired} desired | {int(st.get('updatedReplicas') or 0)} updated | "
            f"{int(st.get('replicas') or 0)} total | {int(st.get('availableReplicas') or 0)} available"
            f" | {int(st.get('unavailableReplicas') or 0)} unavailable"
        ),
    )
    strategy = spec.get("strategy") or {}
    stype = strategy.get("type") or "RollingUpdate"
    page.kv(0, "StrategyType", stype)
    page.kv(0, "MinReadySeconds", spec.get("minReadySeconds", 0))
    if stype == "RollingUpdate":
        ru = strategy.get("rollingUpdate") or {}
        page.kv(
            0,
            "RollingUpdateStrategy",
            f"{ru.get('maxUnavailable', '25%')} max unavailable, {ru.get('maxSurge', '25%')} max surge",
        )
    if spec.get("paused"):
        page.kv(0, "Paused", "true")
    pod_template(page, 0, spec.get("template") or {})
    conds = st.get("conditions") or []
    if conds:
        conditions_table(page, 0, conds, ["type", "status", "reason"], padded=1)
    owned = owned_replicasets(d, replicasets)
    current = revision_of(d)
    new = [rs for rs in owned if revision_of(rs) == current and current]
    # In list order (by name), as kubectl prints them.
    old = sorted((rs for rs in owned if rs not in new), key=lambda rs: rs["metadata"]["name"])
    page.kv(0, "OldReplicaSets", ", ".join(_rs_line(rs) for rs in old) or NONE)
    page.kv(0, "NewReplicaSet", _rs_line(new[0]) if new else NONE)


def describe_replicaset(
    page: Page, rs: dict[str, Any], info: ResourceInfo, pods: list[dict[str, Any]]
) -> None:
    spec, st, m = rs.get("spec") or {}, rs.get("status") or {}, rs.get("metadata") or {}
    page.kv(0, "Name", m.get("name"))
    page.kv(0, "Namespace", m.get("namespace"))
    page.kv(0, "Selector", selector_text(rs))
    page.map(0, "Labels", m.get("labels"))
    annotations_section(page, 0, m.get("annotations"))
    ctrl = controlled_by(rs)
    if ctrl:
        page.kv(0, "Controlled By", ctrl)
    page.kv(
        0,
        "Replicas",
        f"{int(st.get('replicas') or 0)} current / {int(spec.get('replicas') or 0)} desired",
    )
    page.kv(0, "Pods Status", pod_phases(pods))
    pod_template(page, 0, spec.get("template") or {})
    conds = st.get("conditions") or []
    if conds:
        conditions_table(page, 0, conds, ["type", "status", "reason"], padded=1)


def pod_phases(pods: list[dict[str, Any]]) -> str:
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for p in pods:
        ph = (p.get("status") or {}).get("phase") or "Pending"
        counts[ph] = counts.get(ph, 0) + 1
    return (
        f"{counts['Running']} Running / {counts['Pending']} Waiting / "
        f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed"
    )


def describe_job(page: Page, job: dict[str, Any], info: ResourceInfo) -> None:
    spec, st = job.get("spec") or {}, job.get("status") or {}
    m = job.get("metadata") or {}
    page.kv(0, "Name", m.get("name"))
    page.kv(0, "Namespace", m.get("namespace"))
    page.kv(0, "Selector", format_selector(spec.get("selector")))
    page.map(0, "Labels", m.get("labels"))
    annotations_section(page, 0, m.get("annotations"))
    page.kv(0, "Parallelism", spec.get("parallelism", 1))
    page.kv(0, "Completions", spec.get("completions", NONE))
    page.kv(0, "Completion Mode", spec.get("completionMode") or "NonIndexed")
    if spec.get("suspend"):
        page.kv(0, "Suspend", "true")
    page.kv(0, "Backoff Limit", spec.get("backoffLimit", 6))
    if spec.get("activeDeadlineSeconds") is not None:
        page.kv(0, "Active Deadline Seconds", f"{spec['activeDeadlineSeconds']}s")
    if st.get("startTime"):
        page.kv(0, "Start Time", when(st["startTime"]))
    if st.get("completionTime"):
        page.kv(0, "Completed At", when(st["completionTime"]))
    start, end = parse_time(st.get("startTime")), parse_time(st.get("completionTime"))
    if start and end:
        page.kv(0, "Duration", human_duration((end - start).total_seconds()))
    page.kv(
        0,
        "Pods Statuses",
        (
            f"{int(st.get('active') or 0)} Active ({int(st.get('ready') or 0)} Ready) / "
            f"{int(st.get('succeeded') or 0)} Succeeded / {int(st.get('failed') or 0)} Failed"
        ),
    )
    pod_template(page, 0, spec.get("template") or {})
    conds = st.get("conditions") or []
    if conds:
        conditions_table(page, 0, conds, ["type", "status", "reason", "message"])
