"""CronJob controller: a Job at each scheduled time, as Kubernetes' cronjob controller v2.

``reconcile`` is pure: CronJob + the Jobs of its namespace + now → actions (Job creates
and deletes, status, events) and when to look again (the next scheduled time). ``now``
comes from the context's clock, so tests move time instead of waiting for a minute.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import tzinfo

from api.cronschedule import ScheduleError, most_recent, next_start, parse_time_zone

from . import actions as A
from .job import finished_condition
from .objutil import (
    Obj,
    controller_ref,
    creation_time,
    format_time,
    meta,
    name_of,
    namespace_of,
    owner_reference,
    parse_time,
    uid_of,
)

SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
TOO_MANY_MISSED = 100


def job_name(cj: Obj, scheduled: float) -> str:
    """``<cronjob>-<scheduled minutes since the epoch>``: one name per start time, so a
    restarted controller cannot start the same time twice."""
    return f"{name_of(cj)}-{int(scheduled) // 60}"


def job_for(cj: Obj, scheduled: float) -> Obj:
    """The Job of ``cj`` for the start time ``scheduled`` (getJobFromTemplate2)."""
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_AT] = format_time(scheduled)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(cj, scheduled),
            "namespace": namespace_of(cj),
            "labels": dict(tmeta.get("labels") or {}),
            "annotations": annotations,
            "ownerReferences": [owner_reference(cj)],
        },
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


def job_ref(job: Obj) -> Obj:
    """The ObjectReference kept in ``status.active`` (no resourceVersion: it would make
    every change of the Job a write of the CronJob)."""
    m = meta(job)
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "name": m.get("name", ""),
        "namespace": m.get("namespace"),
        "uid": m.get("uid", ""),
    }


def _finished_ok(job: Obj) -> bool | None:
    """True for a Complete Job, False for a Failed one, None while it runs."""
    c = finished_condition(job)
    if c is None:
        return None
    return c.get("type") == "Complete"


@dataclass
class _Children:
    active: list[Obj]
    succeeded: list[Obj]
    failed: list[Obj]


def _children(cj: Obj, jobs: list[Obj]) -> _Children:
    out = _Children([], [], [])
    uid = uid_of(cj)
    for j in jobs:
        ref = controller_ref(j)
        if ref is None or ref.get("uid") != uid:
            continue
        ok = _finished_ok(j)
        if ok is None:
            if not meta(j).get("deletionTimestamp"):
                out.active.append(j)
        elif ok:
            out.succeeded.append(j)
        else:
            out.failed.append(j)
    return out


def _finish_time(job: Obj) -> float:
    st = job.get("status") or {}
    return parse_time(st.get("completionTime")) or creation_time(job)


def _prune(res: A.Result, cj: Obj, jobs: list[Obj], limit: int | None) -> None:
    """Delete the oldest finished Jobs beyond ``limit`` (their pods with them)."""
    if limit is None or len(jobs) <= limit:
        return
    oldest = sorted(jobs, key=lambda j: (_start_time(j), name_of(j)))
    for j in oldest[: len(jobs) - limit]:
        res.actions.append(
            A.delete("jobs", namespace_of(j), name_of(j), propagation_policy="Background")
        )
        res.actions.append(A.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name_of(j)}"))


def _start_time(job: Obj) -> float:
    st = job.get("status") or {}
    return parse_time(st.get("startTime")) or creation_time(job)


def reconcile(cj: Obj, jobs: list[Obj], now: float) -> A.Result:
    """One step for CronJob ``cj`` given every Job of its namespace."""
    res = A.Result()
    spec = cj.get("spec") or {}
    ns = namespace_of(cj)
    st = cj.get("status") or {}
    if meta(cj).get("deletionTimestamp"):
        return res
    kids = _children(cj, jobs)
    status: Obj = {}
    active = [job_ref(j) for j in sorted(kids.active, key=name_of)]
    last_ok = parse_time(st.get("lastSuccessfulTime"))
    for j in kids.succeeded:
        done = _finish_time(j)
        if last_ok is None or done > last_ok:
            last_ok = done
    if last_ok is not None:
        status["lastSuccessfulTime"] = format_time(last_ok)
    for j in kids.succeeded + kids.failed:
        # Seen finishing: the event Kubernetes records once a Job leaves the active list.
        if any(r.get("uid") == uid_of(j) for r in st.get("active") or []):
            ok = "Complete" if _finished_ok(j) else "Failed"
            res.actions.append(
                A.event(
                    cj,
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {name_of(j)}, condition: {ok}",
                )
            )
    _prune(res, cj, kids.succeeded, spec.get("successfulJobsHistoryLimit"))
    _prune(res, cj, kids.failed, spec.get("failedJobsHistoryLimit"))

    last_scheduled = parse_time(st.get("lastScheduleTime"))
    if not spec.get("suspend"):
        try:
            zone = parse_time_zone(spec.get("timeZone"))
            schedule = str(spec.get("schedule") or "")
            _schedule(res, cj, kids, active, status, schedule, zone, now, last_scheduled)
        except ScheduleError as e:
            # Stored before a stricter check, or a zone this host lacks: say so, do nothing.
            res.actions.append(A.event(cj, "Warning", "UnparseableSchedule", str(e)))
    status["active"] = active or None
    if "lastScheduleTime" not in status and st.get("lastScheduleTime"):
        status["lastScheduleTime"] = st["lastScheduleTime"]
    if any(st.get(k) != v for k, v in status.items()):
        res.actions.append(
            A.patch("cronjobs", ns, name_of(cj), {"status": status}, subresource="status")
        )
    return res


def _schedule(
    res: A.Result,
    cj: Obj,
    kids: _Children,
    active: list[Obj],
    status: Obj,
    schedule: str,
    zone: tzinfo,
    now: float,
    last_scheduled: float | None,
) -> None:
    """Start the most recent scheduled time not yet started, if policy and deadline allow."""
    spec = cj.get("spec") or {}
    ns = namespace_of(cj)
    deadline = spec.get("startingDeadlineSeconds")
    earliest = last_scheduled if last_scheduled is not None else creation_time(cj)
    if deadline is not None:
        # Start times older than the deadline are never started (nor counted as missed).
        earliest = max(earliest, now - int(deadline))
    res.requeue(max(next_start(schedule, zone, now) - now, 0.0) + 0.1)
    scheduled, missed = most_recent(schedule, zone, earliest, now, TOO_MANY_MISSED)
    if scheduled is None:
        return
    if missed > TOO_MANY_MISSED:
        res.actions.append(
            A.event(
                cj,
                "Warning",
                "TooManyMissedTimes",
                f"too many missed start times: more than {TOO_MANY_MISSED}. Set or decrease "
                ".spec.startingDeadlineSeconds or check clock skew",
            )
        )
    name = job_name(cj, scheduled)
    if last_scheduled is not None and scheduled <= last_scheduled:
        return
    if any(name_of(j) == name for j in kids.active + kids.succeeded + kids.failed):
        status["lastScheduleTime"] = format_time(scheduled)
        return
    policy = spec.get("concurrencyPolicy") or "Allow"
    if policy == "Forbid" and kids.active:
        # Not started, and not recorded: it starts once the running Job ends (its update
        # wakes us), if the deadline still allows, as Kubernetes.
        return
    if policy == "Replace":
        for j in kids.active:
            res.actions.append(A.delete("jobs", ns, name_of(j), propagation_policy="Background"))
            res.actions.append(
                A.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name_of(j)}")
            )
        active.clear()
    job = job_for(cj, scheduled)
    res.actions.append(A.create("jobs", ns, job))
    res.actions.append(A.event(cj, "Normal", "SuccessfulCreate", f"Created job {name}"))
    active.append(job_ref(job))
    status["lastScheduleTime"] = format_time(scheduled)


# --- the shell ------------------------------------------------------------------------------

from client import ApiError  # noqa: E402

from .base import Controller, apply_action  # noqa: E402
from .objutil import key_of  # noqa: E402


class CronJobController(Controller):
    """Feeds ``reconcile`` from the CronJob and Job informers; wakes at the next start."""

    name = "cronjob"

    def setup(self) -> None:
        self.cronjobs = self.ctx.index("cronjobs")
        self.jobs = self.ctx.index("jobs")
        self.cronjobs.informer.add_handler(
            on_add=lambda o: self.enqueue(key_of(o)),
            on_update=lambda o, n: self.enqueue(key_of(n)),
            on_delete=lambda o: self.enqueue(key_of(o)),
        )
        self.jobs.informer.add_handler(
            on_add=self._job_changed,
            on_update=lambda o, n: self._job_changed(n),
            on_delete=self._job_changed,
        )

    def _job_changed(self, job: Obj) -> None:
        ref = controller_ref(job)
        if ref is not None and ref.get("kind") == "CronJob":
            self.enqueue(f"{namespace_of(job)}/{ref.get('name')}")

    async def sync(self, key: str) -> float | None:
        cj = self.cronjobs.get(key)
        if cj is None:
            return None
        jobs = self.jobs.in_namespace(namespace_of(cj))
        res = reconcile(cj, jobs, self.ctx.clock())
        for a in res.actions:
            try:
                created = await apply_action(self.ctx, a)
            except ApiError as e:
                if not (e.code == 409 and a.verb == "create"):
                    raise
                # The Job of this start time exists: made by us before a restart, or a
                # name another Job took. Either way this time is not started twice.
                continue
            if a.verb == "create" and isinstance(created, dict):
                self._fill_active(res, created)
        return res.requeue_after

    def _fill_active(self, res: A.Result, created: Obj) -> None:
        """The created Job's uid is known only now: the status write that follows gets it."""
        for a in res.actions:
            if a.verb == "patch" and a.subresource == "status" and a.body is not None:
                for ref in a.body["status"].get("active") or []:
                    if ref.get("name") == name_of(created):
                        ref["uid"] = uid_of(created)
