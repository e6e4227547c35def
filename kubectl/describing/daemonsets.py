"""The describe pages of DaemonSets, CronJobs and ReplicationControllers (kubectl's
DaemonSetDescriber, CronJobDescriber, ReplicationControllerDescriber)."""

from __future__ import annotations

from typing import Any

from api.registry import ResourceInfo
from kubectl.describing.common import annotations_section, pod_template, selector_text
from kubectl.describing.workloads import describe_replicaset, pod_phases
from kubectl.describing.writer import NONE, Page, when
from kubectl.printers.columns import format_labels, format_selector

UNSET = "<unset>"


def describe_daemonset(
    page: Page, ds: dict[str, Any], info: ResourceInfo, pods: list[dict[str, Any]]
) -> None:
    spec, st, m = ds.get("spec") or {}, ds.get("status") or {}, ds.get("metadata") or {}
    template = spec.get("template") or {}
    page.kv(0, "Name", m.get("name"))
    page.kv(0, "Namespace", m.get("namespace"))
    page.kv(0, "Selector", selector_text(ds))
    page.kv(0, "Node-Selector", format_labels((template.get("spec") or {}).get("nodeSelector")))
    page.map(0, "Labels", m.get("labels"))
    annotations_section(page, 0, m.get("annotations"))
    for label, key in (
        ("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
        ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
        ("Number of Nodes Scheduled with Up-to-date Pods", "updatedNumberScheduled"),
        ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
        ("Number of Nodes Misscheduled", "numberMisscheduled"),
    ):
        page.kv(0, label, str(int(st.get(key) or 0)))
    page.kv(0, "Pods Status", pod_phases(pods))
    pod_template(page, 0, template)


def describe_cronjob(page: Page, cj: dict[str, Any], info: ResourceInfo) -> None:
    spec, st, m = cj.get("spec") or {}, cj.get("status") or {}, cj.get("metadata") or {}
    job = (spec.get("jobTemplate") or {}).get("spec") or {}

    def opt(value: Any) -> str:
        return UNSET if value is None else str(value)

    page.kv(0, "Name", m.get("name"))
    page.kv(0, "Namespace", m.get("namespace"))
    page.map(0, "Labels", m.get("labels"))
    annotations_section(page, 0, m.get("annotations"))
    page.kv(0, "Schedule", spec.get("schedule"))
    if spec.get("timeZone"):
        page.kv(0, "Time Zone", spec["timeZone"])
    page.kv(0, "Concurrency Policy", spec.get("concurrencyPolicy") or "Allow")
    page.kv(0, "Suspend", "True" if spec.get("suspend") else "False")
    page.kv(0, "Successful Job History Limit", opt(spec.get("successfulJobsHistoryLimit")))
    page.kv(0, "Failed Job History Limit", opt(spec.get("failedJobsHistoryLimit")))
    page.kv(0, "Starting Deadline Seconds", opt(spec.get("startingDeadlineSeconds")))
    selector = job.get("selector")
    page.kv(0, "Selector", format_selector(selector) if selector else UNSET)
    page.kv(0, "Parallelism", opt(job.get("parallelism")))
    page.kv(0, "Completions", opt(job.get("completions")))
    pod_template(page, 0, job.get("template") or {})
    last = st.get("lastScheduleTime")
    page.kv(0, "Last Schedule Time", when(last) if last else UNSET)
    active = [str(r.get("name", "")) for r in st.get("active") or []]
    page.kv(0, "Active Jobs", ", ".join(active) or NONE)


def as_label_selector(rc: dict[str, Any]) -> dict[str, Any]:
    """An RC with its label-map selector as a LabelSelector, for the ReplicaSet page."""
    spec = dict(rc.get("spec") or {})
    selector = spec.get("selector")
    spec["selector"] = {"matchLabels": dict(selector)} if isinstance(selector, dict) else None
    return {**rc, "spec": spec}


def describe_replication_controller(
    page: Page, rc: dict[str, Any], info: ResourceInfo, pods: list[dict[str, Any]]
) -> None:
    describe_replicaset(page, as_label_selector(rc), info, pods)
