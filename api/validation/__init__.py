"""Validation of objects on write: ``validate(kind, obj, old=None) -> list[Cause]``.

Each Cause names the JSON path of the bad field (``spec.containers[0].name``) and says
what is wrong and how to fix it, worded like kube-apiserver. It runs on every API write,
so it works on plain dicts with precompiled regexes; pydantic is used only by
:func:`unknown_fields` (for ``fieldValidation=Strict``/``Warn``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.errors import Cause
from api.selectors import qualified_name_error
from api.validation import kinds, policy, workloads
from api.validation.autoscaling import validate_hpa
from api.validation.certificates import validate_csr
from api.validation.common import (
    Errs,
    check_int,
    check_labels,
    check_name,
    forbidden,
    int_or_percent,
    invalid,
    required,
    show,
    too_long,
    unsupported,
)
from api.validation.discovery import validate_endpoint_slice
from api.validation.fields import drop_unknown_fields, unknown_fields
from api.validation.limitrange import validate_limit_range
from api.validation.networking import (
    NETWORK_POLICY_WARNING,
    validate_ingress,
    validate_ingress_class,
    validate_network_policy,
)
from api.validation.pod import validate_pod_spec
from api.validation.pod_support import pod_spec_of, ratchet, unscored_preferences
from api.validation.queues import validate_queue
from api.validation.quota import validate_resource_quota
from api.validation.statefulset import validate_statefulset
from api.validation.storage import (
    validate_persistent_volume,
    validate_persistent_volume_claim,
    validate_storage_class,
)
from api.validation.templates import check_selector as _check_selector
from api.validation.templates import validate_template as _validate_template
from api.validation.update import validate_update
from api.validation.webhooks import validate_configuration

__all__ = ["drop_unknown_fields", "unknown_fields", "validate"]

Obj = dict[str, Any]

# Name style per kind: Namespaces are DNS labels, Services DNS-1035 labels, the rest subdomains.
# A StatefulSet's name is its pods' hostname prefix and in their pod-name label: a label.
_NAME_STYLE = {"Namespace": "label", "Service": "dns1035", "StatefulSet": "label"}
# RBAC objects are named by path segments (system:kube-scheduler), as in Kubernetes.
_PATH_SEGMENT_NAMED = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})
_CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "Node",
        "ClusterRole",
        "ClusterRoleBinding",
        "PriorityClass",
        "PersistentVolume",
        "StorageClass",
        "IngressClass",
        "CertificateSigningRequest",
        "Queue",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)
_ANNOTATIONS_MAX = 256 * 1024
_STRATEGIES = ("RollingUpdate", "Recreate")
_COMPLETION_MODES = ("NonIndexed", "Indexed")


def _validate_meta(errs: Errs, kind: str, obj: Obj) -> None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        required(
            errs, "metadata", "every object needs metadata with a name (e.g. metadata: {name: web})"
        )
        return
    style = _NAME_STYLE.get(kind, "subdomain")
    name = meta.get("name")
    gen = meta.get("generateName")
    if kind in _PATH_SEGMENT_NAMED and (name or gen):
        kinds.check_path_segment_name(
            errs, "metadata.name" if name else "metadata.generateName", name or gen
        )
    elif not name:
        if not gen:
            required(
                errs,
                "metadata.name",
                "name or generateName is required; set metadata.name (e.g. name: web)",
            )
        else:
            check_name(errs, "metadata.generateName", gen, style, prefix=True)
    else:
        check_name(errs, "metadata.name", name, style)
    ns = meta.get("namespace")
    if ns and kind not in _CLUSTER_SCOPED:
        check_name(errs, "metadata.namespace", ns, "label")
    check_labels(errs, "metadata.labels", meta.get("labels"))
    ann = meta.get("annotations")
    if ann is not None:
        if not isinstance(ann, dict):
            invalid(
                errs, "metadata.annotations", ann, "must be a map of string keys to string values"
            )
        else:
            size = 0
            for k, v in ann.items():
                err = qualified_name_error(k.lower()) if isinstance(k, str) else "must be a string"
                if err:
                    invalid(errs, "metadata.annotations", k, f"annotation key {err}")
                if not isinstance(v, str):
                    invalid(
                        errs,
                        f"metadata.annotations[{k}]",
                        v,
                        'annotation values must be strings; quote it (e.g. "true")',
                    )
                    continue
                size += len(k) + len(v)
            if size > _ANNOTATIONS_MAX:
                too_long(
                    errs,
                    "metadata.annotations",
                    _ANNOTATIONS_MAX,
                    "bytes (keys and values together); move large data to a ConfigMap",
                )
    refs = meta.get("ownerReferences")
    if isinstance(refs, list):
        controllers = 0
        for i, r in enumerate(refs):
            rf = f"metadata.ownerReferences[{i}]"
            if not isinstance(r, dict):
                invalid(errs, rf, r, "must be an object with apiVersion, kind, name and uid")
                continue
            for key in ("apiVersion", "kind", "name", "uid"):
                if not r.get(key):
                    required(errs, f"{rf}.{key}", f"an owner reference needs {key}")
            if r.get("controller"):
                controllers += 1
        if controllers > 1:
            invalid(
                errs,
                "metadata.ownerReferences",
                refs,
                "Only one reference can have Controller set to true; unset controller on the others",
            )
    fins = meta.get("finalizers")
    if isinstance(fins, list):
        for i, f in enumerate(fins):
            err = qualified_name_error(f) if isinstance(f, str) else "must be a string"
            if err:
                invalid(errs, f"metadata.finalizers[{i}]", f, err)


def _validate_replicated(errs: Errs, obj: Obj) -> Obj | None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with selector and template is required")
        return None
    check_int(errs, "spec.replicas", spec.get("replicas"), 0)
    check_int(errs, "spec.minReadySeconds", spec.get("minReadySeconds"), 0)
    template = _validate_template(errs, spec, ("Always",))
    _check_selector(errs, "spec.selector", spec.get("selector"), template, "spec.template")
    return spec


def _validate_deployment(errs: Errs, obj: Obj) -> None:
    spec = _validate_replicated(errs, obj)
    if spec is None:
        return
    check_int(errs, "spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"), 0)
    pds = spec.get("progressDeadlineSeconds")
    if check_int(errs, "spec.progressDeadlineSeconds", pds, 1) and pds is not None:
        mrs = spec.get("minReadySeconds")
        if isinstance(mrs, int) and pds <= mrs:
            invalid(
                errs, "spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"
            )
    strategy = spec.get("strategy")
    if not isinstance(strategy, dict):
        return
    stype = strategy.get("type", "RollingUpdate")
    if stype not in _STRATEGIES:
        unsupported(errs, "spec.strategy.type", stype, _STRATEGIES)
    ru = strategy.get("rollingUpdate")
    if stype == "Recreate" and ru is not None:
        forbidden(
            errs,
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'; remove it or use type RollingUpdate",
        )
    if stype == "RollingUpdate" and isinstance(ru, dict):
        f = "spec.strategy.rollingUpdate"
        unavailable = int_or_percent(errs, f"{f}.maxUnavailable", ru.get("maxUnavailable"), 100)
        surge = int_or_percent(errs, f"{f}.maxSurge", ru.get("maxSurge"))
        if unavailable == 0 and surge == 0:
            invalid(
                errs,
                f"{f}.maxUnavailable",
                ru.get("maxUnavailable"),
                "may not be 0 when `maxSurge` is 0; set maxSurge or maxUnavailable to at least 1 so the rollout can progress",
            )


def _validate_replicaset(errs: Errs, obj: Obj) -> None:
    _validate_replicated(errs, obj)


def _validate_job(errs: Errs, obj: Obj) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a spec with a pod template is required")
        return
    for key in ("parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"):
        check_int(errs, f"spec.{key}", spec.get(key), 0)
    check_int(errs, "spec.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"), 1)
    mode = spec.get("completionMode")
    if mode is not None and mode not in _COMPLETION_MODES:
        unsupported(errs, "spec.completionMode", mode, _COMPLETION_MODES)
    if mode == "Indexed" and spec.get("completions") is None:
        required(errs, "spec.completions", "when completionMode is Indexed, set completions")
    template = _validate_template(errs, spec, ("OnFailure", "Never"))
    if isinstance(template, dict):
        tspec = template.get("spec")
        if isinstance(tspec, dict) and not tspec.get("restartPolicy"):
            required(
                errs,
                "spec.template.spec.restartPolicy",
                "a Job's pods must not restart forever; set restartPolicy to OnFailure or Never",
            )
    sel = spec.get("selector")
    if sel is not None:
        _check_selector(errs, "spec.selector", sel, template, "spec.template")


def _validate_pod(errs: Errs, obj: Obj) -> None:
    validate_pod_spec(errs, "spec", obj.get("spec"))


_VALIDATORS: dict[str, Callable[[Errs, Obj], None]] = {
    "Pod": _validate_pod,
    "Deployment": _validate_deployment,
    "ReplicaSet": _validate_replicaset,
    "StatefulSet": validate_statefulset,
    "Job": _validate_job,
    "Service": kinds.validate_service,
    "Node": kinds.validate_node,
    "ConfigMap": kinds.validate_configmap,
    "Secret": kinds.validate_secret,
    "Event": kinds.validate_event,
    "Endpoints": kinds.validate_endpoints,
    "Lease": kinds.validate_lease,
    "Role": kinds.validate_role,
    "ClusterRole": kinds.validate_cluster_role,
    "RoleBinding": kinds.validate_role_binding,
    "ClusterRoleBinding": kinds.validate_cluster_role_binding,
    "PriorityClass": policy.validate_priority_class,
    "Queue": validate_queue,
    "PodDisruptionBudget": policy.validate_pod_disruption_budget,
    "EndpointSlice": validate_endpoint_slice,
    "PersistentVolume": validate_persistent_volume,
    "PersistentVolumeClaim": validate_persistent_volume_claim,
    "StorageClass": validate_storage_class,
    "DaemonSet": workloads.validate_daemon_set,
    "ControllerRevision": workloads.validate_controller_revision,
    "ReplicationController": workloads.validate_replication_controller,
    "CronJob": lambda errs, obj: workloads.validate_cron_job(errs, obj, _validate_job),
    "ResourceQuota": validate_resource_quota,
    "LimitRange": validate_limit_range,
    "Ingress": validate_ingress,
    "IngressClass": validate_ingress_class,
    "NetworkPolicy": validate_network_policy,
    "CertificateSigningRequest": validate_csr,
    "HorizontalPodAutoscaler": validate_hpa,
    "ValidatingWebhookConfiguration": validate_configuration,
    "MutatingWebhookConfiguration": validate_configuration,
}


def validate(kind: str, obj: Obj, old: Obj | None = None) -> list[Cause]:
    """Every reason ``obj`` may not be stored, as Causes; ``[]`` when it is valid.

    With ``old`` (an update), immutable fields are also checked against the stored object.
    Call after :func:`api.defaults.apply_defaults`.
    """
    errs: Errs = []
    if not isinstance(obj, dict):
        required(errs, "", f"the body must be a JSON object, got {show(obj)[:80]}")
        return errs
    _validate_meta(errs, kind, obj)
    f = _VALIDATORS.get(kind)
    if f is not None:
        f(errs, obj)
    if old is not None:
        errs = ratchet(errs, kind, old)  # fields refused since the object was stored
        validate_update(errs, kind, obj, old)
    return errs


def warnings(kind: str, obj: Obj) -> list[str]:
    """What the server accepts in ``obj`` but does not act on, as ``Warning`` texts for
    the reply (soft scheduling preferences the scheduler does not score)."""
    if kind == "NetworkPolicy":
        return [NETWORK_POLICY_WARNING]  # stored, never silently: nothing enforces it yet
    found = pod_spec_of(kind, obj) if isinstance(obj, dict) else None
    return unscored_preferences(*found) if found else []
