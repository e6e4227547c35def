"""Validation of apps/v1 StatefulSets, worded as kube-apiserver's ValidateStatefulSetSpec."""

from __future__ import annotations

from typing import Any

from api.errors import Cause
from api.validation.common import (
    Errs,
    as_dict,
    check_int,
    check_labels,
    check_name,
    duplicate,
    forbidden,
    int_or_percent,
    invalid,
    required,
    unsupported,
)
from api.validation.pod import validate_pod_spec
from api.validation.storage import validate_persistent_volume_claim
from api.validation.templates import check_selector

Obj = dict[str, Any]

POD_MANAGEMENT_POLICIES = ("OrderedReady", "Parallel")
UPDATE_STRATEGIES = ("RollingUpdate", "OnDelete")
RETENTION_POLICIES = ("Retain", "Delete")
# The spec fields an update may change (apps validation's ValidateStatefulSetUpdate).
MUTABLE_SPEC_FIELDS = (
    "replicas",
    "ordinals",
    "template",
    "updateStrategy",
    "persistentVolumeClaimRetentionPolicy",
    "minReadySeconds",
)


def _claim_template_names(errs: Errs, templates: Any) -> frozenset[str]:
    """The names of the claim templates (each a volume of every pod), checked."""
    f = "spec.volumeClaimTemplates"
    if templates is None:
        return frozenset()
    if not isinstance(templates, list):
        invalid(errs, f, templates, "must be a list of PersistentVolumeClaim templates")
        return frozenset()
    names: set[str] = set()
    for i, t in enumerate(templates):
        tf = f"{f}[{i}]"
        if not isinstance(t, dict):
            invalid(errs, tf, t, "must be a PersistentVolumeClaim (metadata.name and spec)")
            continue
        name = as_dict(t.get("metadata")).get("name")
        if not name:
            required(
                errs,
                f"{tf}.metadata.name",
                "name the claim template; it is the volume name the containers mount",
            )
            continue
        # Each claim is named <template>-<statefulset>-<ordinal>, so the name is a label.
        check_name(errs, f"{tf}.metadata.name", name, "label")
        _check_claim_spec(errs, tf, t)
        if not isinstance(name, str):
            continue  # reported by check_name
        if name in names:
            duplicate(errs, f"{tf}.metadata.name", name, "claim template names must be unique")
        names.add(name)
    return frozenset(names)


def _check_claim_spec(errs: Errs, field: str, template: Obj) -> None:
    """A claim template is checked as the claims made from it will be, so a bad one is
    refused here rather than when the first pod's claim is created."""
    found: Errs = []
    validate_persistent_volume_claim(found, {"spec": template.get("spec")})
    errs.extend(Cause(f"{field}.{c.field}", c.message, c.reason) for c in found)


def _check_update_strategy(errs: Errs, strategy: Any) -> None:
    f = "spec.updateStrategy"
    if strategy is None:
        return
    if not isinstance(strategy, dict):
        invalid(errs, f, strategy, "must be an object with type RollingUpdate or OnDelete")
        return
    stype = strategy.get("type")
    ru = strategy.get("rollingUpdate")
    if not stype:
        required(errs, f"{f}.type", "set RollingUpdate or OnDelete")
    elif stype not in UPDATE_STRATEGIES:
        invalid(errs, f"{f}.type", stype, "must be 'RollingUpdate' or 'OnDelete'")
    elif stype == "OnDelete" and ru is not None:
        invalid(
            errs,
            f"{f}.rollingUpdate",
            ru,
            "only allowed for updateStrategy 'RollingUpdate'; remove it or use type RollingUpdate",
        )
    if stype == "RollingUpdate" and isinstance(ru, dict):
        check_int(errs, f"{f}.rollingUpdate.partition", ru.get("partition"), 0)
        mu = ru.get("maxUnavailable")
        n = int_or_percent(errs, f"{f}.rollingUpdate.maxUnavailable", mu, 100)
        if n == 0:
            invalid(
                errs,
                f"{f}.rollingUpdate.maxUnavailable",
                mu,
                "must be greater than 0; at least one pod is replaced at a time",
            )
    elif stype == "RollingUpdate" and ru is not None:
        invalid(errs, f"{f}.rollingUpdate", ru, "must be an object (e.g. {partition: 0})")


def _check_retention(errs: Errs, policy: Any) -> None:
    f = "spec.persistentVolumeClaimRetentionPolicy"
    if policy is None:
        return
    if not isinstance(policy, dict):
        invalid(errs, f, policy, "must be an object with whenDeleted and whenScaled")
        return
    for key in ("whenDeleted", "whenScaled"):
        v = policy.get(key)
        if v is not None and v not in RETENTION_POLICIES:
            unsupported(errs, f"{f}.{key}", v, RETENTION_POLICIES)


def validate_statefulset(errs: Errs, obj: Obj) -> None:
    """Every reason the StatefulSet ``obj`` (defaulted) may not be stored."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with selector, template and serviceName is required")
        return
    check_int(errs, "spec.replicas", spec.get("replicas"), 0)
    check_int(errs, "spec.minReadySeconds", spec.get("minReadySeconds"), 0)
    check_int(errs, "spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), 0)
    ordinals = spec.get("ordinals")
    if ordinals is not None:
        if isinstance(ordinals, dict):
            check_int(errs, "spec.ordinals.start", ordinals.get("start"), 0)
        else:
            invalid(errs, "spec.ordinals", ordinals, "must be an object (e.g. {start: 0})")
    service = spec.get("serviceName")
    if service:
        # The pods' subdomain: <pod>.<serviceName>.<ns>.svc names a headless Service.
        check_name(errs, "spec.serviceName", service, "dns1035")
    pmp = spec.get("podManagementPolicy")
    if not pmp:
        required(errs, "spec.podManagementPolicy", "set OrderedReady or Parallel")
    elif pmp not in POD_MANAGEMENT_POLICIES:
        invalid(errs, "spec.podManagementPolicy", pmp, "must be 'OrderedReady' or 'Parallel'")
    _check_update_strategy(errs, spec.get("updateStrategy"))
    _check_retention(errs, spec.get("persistentVolumeClaimRetentionPolicy"))
    claims = _claim_template_names(errs, spec.get("volumeClaimTemplates"))

    template = spec.get("template")
    if not isinstance(template, dict):
        required(
            errs,
            "spec.template",
            "a pod template (metadata.labels and spec.containers) is required",
        )
    else:
        check_labels(
            errs,
            "spec.template.metadata.labels",
            as_dict(template.get("metadata")).get("labels"),
        )
        tspec = template.get("spec")
        validate_pod_spec(errs, "spec.template.spec", tspec, ("Always",), claim_volumes=claims)
        if isinstance(tspec, dict) and tspec.get("activeDeadlineSeconds") is not None:
            forbidden(
                errs,
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported; remove it",
            )
    check_selector(errs, "spec.selector", spec.get("selector"), template, "spec.template")


def validate_statefulset_update(errs: Errs, new: Obj, old: Obj) -> None:
    """Only the mutable spec fields may change, as in Kubernetes."""
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    fixed = sorted(set(ns) | set(os_))
    if any(ns.get(k) != os_.get(k) for k in fixed if k not in MUTABLE_SPEC_FIELDS):
        forbidden(
            errs,
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
            "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
            "'minReadySeconds' are forbidden; delete and recreate the StatefulSet (with "
            "--cascade=orphan to keep its pods) to change the others",
        )
