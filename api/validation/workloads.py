"""Validation of DaemonSets and ControllerRevisions, worded as kube-apiserver's."""

from __future__ import annotations

from typing import Any

from api.validation.common import (
    Errs,
    check_int,
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
