"""``kl top queues``: each GPU queue's share, what it uses and borrows, its waiting jobs and
its GPU-hours this week (docs/queues.md).

The figures of use come from the Queue's ``status``, which the scheduler writes every few
seconds from its ledger (scheduler/queue_ledger.py:QueueLedger.status): it is the one
component that sees every queue pod start and stop. The waiting jobs are counted here
from the pods themselves, a gang or a Job's pods once, since a job is what a user waits on.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from api.gpus import GPU_RESOURCE
from api.queues import GANG_LABEL, QUEUE_LABEL, iso_week
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.gpus import pod_is_live
from kubectl.printers.table import render_table

Obj = dict[str, Any]

HEADERS = ["NAME", "GPUS(used/share)", "BORROWED", "WAITING", "FAIR-SHARE", "GPU-HOURS(week)"]


def _job_of(pod: Obj) -> str:
    """What a user waits on: the gang, else the controlling owner (a Job), else the pod."""
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace") or ""
    gang = (meta.get("labels") or {}).get(GANG_LABEL)
    if gang:
        return f"{ns}/gang/{gang}"
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ns}/{ref.get('kind', '')}/{ref.get('name', '')}"
    return f"{ns}/pod/{meta.get('name', '')}"


def waiting_jobs(pods: Iterable[Obj]) -> dict[str, int]:
    """Queue name -> how many jobs have a pod not yet placed."""
    jobs: dict[str, set[str]] = {}
    for p in pods:
        queue = ((p.get("metadata") or {}).get("labels") or {}).get(QUEUE_LABEL)
        placed = bool((p.get("spec") or {}).get("nodeName"))
        going = bool((p.get("metadata") or {}).get("deletionTimestamp"))
        if not queue or not pod_is_live(p) or placed or going:
            continue
        jobs.setdefault(str(queue), set()).add(_job_of(p))
    return {q: len(js) for q, js in jobs.items()}


def _gpus(resources: Any) -> int:
    if isinstance(resources, dict):
        try:
            return int(resources.get(GPU_RESOURCE) or 0)
        except (TypeError, ValueError):
            return 0
    return 0


def week_gpu_hours(status: Obj, now: datetime) -> float | None:
    """This week's GPU-hours from the status (0 when the scheduler last wrote in an earlier
    week: nothing ran since; None when it never wrote one)."""
    usage = status.get("usage")
    if not isinstance(usage, dict):
        return None
    if usage.get("week") != iso_week(now.timestamp()):
        return 0.0
    return float(usage.get("weekGpuSeconds") or 0.0) / 3600.0


def queue_rows(queues: list[Obj], pods: list[Obj], now: datetime) -> list[list[str]]:
    """One row per queue, by name (see HEADERS)."""
    waiting = waiting_jobs(pods)
    rows = []
    for q in sorted(queues, key=lambda q: q["metadata"]["name"]):
        name = q["metadata"]["name"]
        share = _gpus((q.get("spec") or {}).get("nominal"))
        status = q.get("status") or {}
        hours = week_gpu_hours(status, now)
        if not status:  # the scheduler has not written it yet
            used = borrowed = fair = "<unknown>"
        else:
            used = str(_gpus(status.get("used")))
            borrowed = str(_gpus(status.get("borrowed")))
            fair = f"{float(status.get('fairShare', 1.0)):.2f}"
        rows.append(
            [
                name,
                f"{used}/{share}",
                borrowed,
                str(waiting.get(name, 0)),
                fair,
                "<unknown>" if hours is None else f"{hours:.1f}",
            ]
        )
    return rows


def top_queues(ctx: Ctx) -> int:
    queues = ctx.client.list_all("queues", label_selector=ctx.args.selector)["items"]
    if ctx.args.names:
        queues = [q for q in queues if q["metadata"]["name"] in ctx.args.names]
        missing = set(ctx.args.names) - {q["metadata"]["name"] for q in queues}
        if missing:
            raise CliError(f'queues.scheduling.kubelab.io "{sorted(missing)[0]}" not found')
    if not queues:
        ctx.err("No queues found (docs/queues.md shows how to make one)")
        return 0
    pods = ctx.client.list_all("pods", None, label_selector=QUEUE_LABEL)["items"]
    rows = queue_rows(queues, pods, datetime.now(UTC))
    if any(not q.get("status") for q in queues):
        ctx.err("the scheduler has not written every queue's status yet (is it running?)")
    ctx.stdout.write(render_table([] if ctx.args.no_headers else HEADERS, rows))
    return 0
