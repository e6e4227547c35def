"""Validation of DaemonSets and ControllerRevisions, worded as kube-apiserver's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.cronschedule import ScheduleError, parse_schedule, parse_time_zone
from api.errors import Cause
from api.validation.common import (
    Errs,
    check_int,
    check_labels,
    int_or_percent,
    invalid,
    required,
    unsupported,
)
from api.validation.templates import check_selector, validate_template

Obj = dict[str, Any]

DAEMONSET_STRATEGIES = ("RollingUpdate", "OnDelete")


def validate_daemon_set(errs: Errs, obj: Obj) -> None:
    """apps/v1 DaemonSet: selector matching the template, an Always-restarting pod
    template, and an update strategy whose rolling update can make progress."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with selector and template is required")
        return
    check_int(errs, "spec.minReadySeconds", spec.get("minReadySeconds"), 0)
    check_int(errs, "spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), 0)
    template = validate_template(errs, spec, ("Always",))
    check_selector(errs, "spec.selector", spec.get("selector"), template, "spec.template")
    strategy = spec.get("updateStrategy")
    if strategy is None:
        return
    if not isinstance(strategy, dict):
        invalid(errs, "spec.updateStrategy", strategy, "must be an object with a type")
        return
    stype = strategy.get("type", "RollingUpdate")
    if stype not in DAEMONSET_STRATEGIES:
        unsupported(errs, "spec.updateStrategy.type", stype, DAEMONSET_STRATEGIES)
        return
    ru = strategy.get("rollingUpdate")
    if stype != "RollingUpdate" or ru is None:
        return
    f = "spec.updateStrategy.rollingUpdate"
    if not isinstance(ru, dict):
        invalid(errs, f, ru, "must be an object with maxUnavailable and/or maxSurge")
        return
    unavailable = int_or_percent(errs, f"{f}.maxUnavailable", ru.get("maxUnavailable"), 100)
    surge = int_or_percent(errs, f"{f}.maxSurge", ru.get("maxSurge"), 100)
    if unavailable == 0 and surge in (0, None):
        invalid(
            errs,
            f"{f}.maxUnavailable",
            ru.get("maxUnavailable"),
            "may not be 0 when maxSurge is 0; set maxUnavailable or maxSurge to at least 1 "
            "so the rollout can progress",
        )
    if unavailable and surge:
        invalid(
            errs,
            f"{f}.maxSurge",
            ru.get("maxSurge"),
            "may not be set when maxUnavailable is non-zero; set one of them to 0",
        )


def validate_controller_revision(errs: Errs, obj: Obj) -> None:
    """apps/v1 ControllerRevision: a non-negative revision (data is free-form)."""
    rev = obj.get("revision")
    if rev is None:
        required(errs, "revision", "set revision to the number of this snapshot (e.g. 1)")
        return
    check_int(errs, "revision", rev, 0)
    data = obj.get("data")
    if data is not None and not isinstance(data, dict):
        invalid(errs, "data", data, "must be an object (the snapshot of the controller's spec)")


CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
# A CronJob's Jobs are named <cronjob>-<minutes since the epoch> (11 more characters), and
# the Job's name must fit in a label value.
CRONJOB_NAME_MAX = 52


def validate_cron_job(errs: Errs, obj: Obj, validate_job: Callable[[Errs, Obj], None]) -> None:
    """batch/v1 CronJob: schedule and timeZone that parse, policies, limits, and a job
    template valid as a Job's spec (checked by ``validate_job``, paths under jobTemplate)."""
    name = (obj.get("metadata") or {}).get("name")
    if isinstance(name, str) and len(name) > CRONJOB_NAME_MAX:
        invalid(
            errs,
            "metadata.name",
            name,
            f"must be no more than {CRONJOB_NAME_MAX} characters (the Jobs it makes add 11 to it)",
        )
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with schedule and jobTemplate is required")
        return
    schedule = spec.get("schedule")
    if not schedule:
        required(errs, "spec.schedule", 'set a cron schedule (e.g. schedule: "*/5 * * * *")')
    elif not isinstance(schedule, str):
        invalid(errs, "spec.schedule", schedule, "must be a string in cron format")
    else:
        try:
            parse_schedule(schedule)
        except ScheduleError as e:
            invalid(errs, "spec.schedule", schedule, str(e))
    tz = spec.get("timeZone")
    if tz is not None:
        if not isinstance(tz, str):
            invalid(errs, "spec.timeZone", tz, "must be a time zone name (e.g. Europe/Berlin)")
        else:
            try:
                parse_time_zone(tz)
            except ScheduleError as e:
                invalid(errs, "spec.timeZone", tz, str(e))
    policy = spec.get("concurrencyPolicy")
    if policy is None:
        required(errs, "spec.concurrencyPolicy", "set one of Allow, Forbid or Replace")
    elif policy not in CONCURRENCY_POLICIES:
        unsupported(errs, "spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES)
    for key in ("startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        check_int(errs, f"spec.{key}", spec.get(key), 0)
    suspend = spec.get("suspend")
    if suspend is not None and not isinstance(suspend, bool):
        invalid(errs, "spec.suspend", suspend, "must be true or false")
    jt = spec.get("jobTemplate")
    if not isinstance(jt, dict) or not isinstance(jt.get("spec"), dict):
        required(
            errs, "spec.jobTemplate.spec", "a job template (spec.template with the pod) is required"
        )
        return
    found: Errs = []
    validate_job(found, {"spec": jt["spec"]})
    errs.extend(
        Cause(f"spec.jobTemplate.{c.field}" if c.field else "spec.jobTemplate", c.message, c.reason)
        for c in found
    )


def validate_replication_controller(errs: Errs, obj: Obj) -> None:
    """core/v1 ReplicationController: a non-empty label-map selector that the template's
    labels satisfy, an Always-restarting pod template (ValidateReplicationControllerSpec)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with selector and template is required")
        return
    check_int(errs, "spec.replicas", spec.get("replicas"), 0)
    check_int(errs, "spec.minReadySeconds", spec.get("minReadySeconds"), 0)
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        required(
            errs,
            "spec.selector",
            "a non-empty selector (a map of labels, e.g. selector: {app: web}) is required",
        )
        selector = None
    else:
        check_labels(errs, "spec.selector", selector)
    template = validate_template(errs, spec, ("Always",))
    if template is None or selector is None:
        return
    labels = (template.get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, dict) or any(labels.get(k) != v for k, v in selector.items()):
        invalid(
            errs,
            "spec.template.metadata.labels",
            labels,
            "`selector` does not match template `labels`; give the template every label "
            f"of spec.selector ({','.join(f'{k}={v}' for k, v in sorted(selector.items()))})",
        )
