"""Job controller: run pods to ``completions`` successes, retrying up to ``backoffLimit``.

``reconcile`` is pure: Job + the pods of its namespace + now → actions (pod creates and
deletes, status with Complete/Failed conditions, events, the TTL deletion).
"""

from __future__ import annotations

from typing import Any

from client.backoff import Backoff

from . import actions as A
from .objutil import (
    Obj,
    controller_ref,
    format_time,
    get_condition,
    meta,
    name_of,
    namespace_of,
    parse_time,
    random_suffix,
    status_differs,
    uid_of,
)
from .podutil import is_active, is_ready, phase, pod_from_template, restart_count, sort_for_deletion

DEFAULT_BACKOFF_LIMIT = 6


def finished_condition(job: Obj) -> Obj | None:
    """The Complete or Failed condition if the Job is finished."""
    for ctype in ("Complete", "Failed"):
        c = get_condition(job, ctype)
        if c and c.get("status") == "True":
            return c
    return None


def job_pod_labels(job: Obj) -> dict[str, str]:
    """The labels every pod of ``job`` carries (Kubernetes' own names)."""
    return {
        "job-name": name_of(job),
        "batch.kubernetes.io/job-name": name_of(job),
        "controller-uid": uid_of(job),
        "batch.kubernetes.io/controller-uid": uid_of(job),
    }


def new_pod(job: Obj) -> Obj:
    template = (job.get("spec") or {}).get("template") or {}
    return pod_from_template(
        job, template, f"{name_of(job)}-{random_suffix()}", extra_labels=job_pod_labels(job)
    )


def _condition(ctype: str, reason: str, message: str, now: float) -> Obj:
    t = format_time(now)
    return {
        "type": ctype,
        "status": "True",
        "lastProbeTime": t,
        "lastTransitionTime": t,
        "reason": reason,
        "message": message,
    }


def _finish_time(pod: Obj) -> float:
    """When a failed pod's last container ended (creation time if unknown)."""
    best = 0.0
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        t = parse_time(((cs.get("state") or {}).get("terminated") or {}).get("finishedAt"))
        best = max(best, t or 0.0)
    return best or parse_time(meta(pod).get("creationTimestamp")) or 0.0


def reconcile(
    job: Obj,
    pods: list[Obj],
    now: float,
    *,
    backoff_base: float = 10.0,
    backoff_max: float = 360.0,
) -> A.Result:
    """One level-triggered step for ``job`` given every pod in its namespace."""
    res = A.Result()
    ns = namespace_of(job)
    spec = job.get("spec") or {}
    old = dict(job.get("status") or {})
    uid = uid_of(job)
    owned = [p for p in pods if (controller_ref(p) or {}).get("uid") == uid]
    active = [p for p in owned if is_active(p)]
    succeeded = max(
        int(old.get("succeeded") or 0), sum(1 for p in owned if phase(p) == "Succeeded")
    )
    failed_pods = [p for p in owned if phase(p) == "Failed"]
    failed = max(int(old.get("failed") or 0), len(failed_pods))

    done = finished_condition(job)
    if done is not None:
        # Finished: stop what still runs, then honour ttlSecondsAfterFinished.
        for p in active:
            res.actions.append(A.delete("pods", ns, name_of(p)))
        ttl = spec.get("ttlSecondsAfterFinished")
        if ttl is not None and not meta(job).get("deletionTimestamp"):
            finished_at = (
                parse_time(old.get("completionTime"))
                or parse_time(done.get("lastTransitionTime"))
                or now
            )
            if now >= finished_at + int(ttl):
                res.actions.append(
                    A.delete("jobs", ns, name_of(job), propagation_policy="Background")
                )
            else:
                res.requeue(finished_at + int(ttl) - now + 0.05)
        status: dict[str, Any] = {"active": 0, "ready": 0} if active or old.get("active") else {}
        if status and status_differs(old, status):
            res.actions.append(
                A.patch("jobs", ns, name_of(job), {"status": status}, subresource="status")
            )
        return res

    if meta(job).get("deletionTimestamp"):
        return res

    status = {"startTime": old.get("startTime") or format_time(now)}
    start = parse_time(status["startTime"]) or now
    completions = spec.get("completions")
    parallelism = 1 if spec.get("parallelism") is None else int(spec["parallelism"])
    backoff_limit = (
        DEFAULT_BACKOFF_LIMIT if spec.get("backoffLimit") is None else int(spec["backoffLimit"])
    )
    restart_policy = ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy", "Never")
    conditions = [dict(c) for c in old.get("conditions") or []]
    # With OnFailure the kubelet restarts containers in place: those restarts are the failures.
    restarts = sum(restart_count(p) for p in active) if restart_policy == "OnFailure" else 0

    failure: tuple[str, str] | None = None
    deadline = spec.get("activeDeadlineSeconds")
    if failed + restarts > backoff_limit:
        failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    elif deadline is not None and now >= start + int(deadline):
        failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
    elif deadline is not None:
        res.requeue(start + int(deadline) - now + 0.05)

    complete = False
    if failure is None:
        if completions is not None:
            complete = succeeded >= int(completions)
        else:
            complete = succeeded > 0 and not active

    if failure is not None:
        for p in active:
            res.actions.append(A.delete("pods", ns, name_of(p)))
        conditions.append(_condition("Failed", failure[0], failure[1], now))
        res.actions.append(A.event(job, "Warning", failure[0], failure[1]))
        active = []
    elif complete:
        for p in active:
            res.actions.append(A.delete("pods", ns, name_of(p)))
        conditions.append(
            _condition(
                "Complete", "CompletionsReached", "Reached expected number of succeeded pods", now
            )
        )
        status["completionTime"] = format_time(now)
        res.actions.append(A.event(job, "Normal", "Completed", "Job completed"))
        active = []
        ttl = spec.get("ttlSecondsAfterFinished")
        if ttl is not None:
            res.requeue(float(ttl) + 0.05)
    else:
        want = parallelism
        if completions is not None:
            want = min(parallelism, int(completions) - succeeded)
        elif succeeded > 0:
            want = 0  # work-queue mode: once one pod succeeded, start no more
        want = max(want, 0)
        if len(active) > want:
            for p in sort_for_deletion(active, now)[: len(active) - want]:
                res.actions.append(A.delete("pods", ns, name_of(p)))
        elif len(active) < want:
            # Exponential back-off after failures: 10 s, 20 s, 40 s, … (capped), like kube.
            wait = 0.0
            if failed_pods and restart_policy == "Never":
                delay = Backoff(backoff_base, cap=backoff_max).delay(len(failed_pods))
                last = max(_finish_time(p) for p in failed_pods)
                wait = last + delay - now
            if wait > 0:
                res.requeue(wait + 0.01)
            else:
                for _ in range(want - len(active)):
                    res.actions.append(A.create("pods", ns, new_pod(job)))

    status.update(
        {
            "active": len(active),
            "ready": sum(1 for p in active if is_ready(p)),
            "succeeded": succeeded,
            "failed": failed,
            "conditions": conditions or None,
        }
    )
    if failure is not None or complete:
        status["active"] = 0
        status["ready"] = 0
    if status_differs(old, status):
        res.actions.append(
            A.patch("jobs", ns, name_of(job), {"status": status}, subresource="status")
        )
    return res


# --- the shell ---------------------------------------------------------------------------

from .replicaset import ReplicaSetController  # noqa: E402


class JobController(ReplicaSetController):
    """The ReplicaSet shell (informers, expectations, slow start) around the Job reconcile."""

    name = "job"
    kind = "Job"
    resource = "jobs"

    def reconcile(self, owner: Obj, pods: list[Obj], now: float, satisfied: bool) -> A.Result:
        res = reconcile(
            owner,
            pods,
            now,
            backoff_base=self.ctx.options.job_backoff_base,
            backoff_max=self.ctx.options.job_backoff_max,
        )
        if not satisfied:
            # Creations or deletions still in flight: do not repeat them, just look again.
            res.actions = [
                a for a in res.actions if a.resource != "pods" or a.verb not in ("create", "delete")
            ]
        return res
