"""Update rules: which fields may not change once an object exists."""

from __future__ import annotations

import copy
from typing import Any

from api.defaults import default_own_pod_spec, default_pod_spec
from api.validation import kinds, policy
from api.validation.certificates import validate_csr_update
from api.validation.common import Errs, as_dict, forbidden, invalid
from api.validation.networking import validate_ingress_class_update
from api.validation.service_ips import validate_service_ips_update
from api.validation.statefulset import validate_statefulset_update
from api.validation.storage import (
    validate_persistent_volume_claim_update,
    validate_persistent_volume_update,
    validate_storage_class_update,
)

Obj = dict[str, Any]

_POD_UPDATE_MSG = (
    "pod updates may not change fields other than spec.containers[*].image, "
    "spec.initContainers[*].image, spec.activeDeadlineSeconds, spec.tolerations "
    "(only additions to existing tolerations); delete and recreate the pod to change "
    "anything else, or manage it with a Deployment"
)


def first_difference(a: Any, b: Any, path: str) -> str:
    """The JSON path of the first place where ``a`` and ``b`` differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if a.get(k) != b.get(k):
                return first_difference(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return path


def _mask_pod_spec(spec: Any, old_spec: Any) -> Any:
    """A copy of ``spec`` without the fields a pod update may change."""
    if not isinstance(spec, dict):
        return spec
    s = dict(spec)
    for key in ("containers", "initContainers"):
        cs = s.get(key)
        if isinstance(cs, list):
            s[key] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                for c in cs
            ]
    for key in ("activeDeadlineSeconds", "tolerations", "schedulingGates"):
        s.pop(key, None)
    # Binding a pod sets nodeName once; that is the scheduler's one allowed spec write.
    if not (isinstance(old_spec, dict) and old_spec.get("nodeName")):
        s.pop("nodeName", None)
    return s


def _validate_pod_update(errs: Errs, new: Obj, old: Obj) -> None:
    ns, os_ = new.get("spec"), old.get("spec")
    masked_new = _mask_pod_spec(ns, os_)
    masked_old = _mask_pod_spec(os_, os_)
    if masked_new != masked_old and isinstance(os_, dict):
        # An object stored before a newer default existed differs only by that default:
        # default a copy of the old spec the way the new one was, then compare again.
        redefaulted = copy.deepcopy(os_)
        default_pod_spec(redefaulted)
        default_own_pod_spec(redefaulted)
        masked_old = _mask_pod_spec(redefaulted, os_)
    if masked_new != masked_old:
        where = first_difference(masked_old, masked_new, "spec")
        forbidden(errs, "spec", f"{_POD_UPDATE_MSG} (changed: {where})")
    if not isinstance(ns, dict) or not isinstance(os_, dict):
        return
    old_tol = os_.get("tolerations") or []
    new_tol = ns.get("tolerations") or []
    # A tolerations value that is not a list is the spec validator's to report.
    if not isinstance(old_tol, list) or not isinstance(new_tol, list):
        old_tol = []
    for t in old_tol:
        if t not in new_tol:
            forbidden(
                errs,
                "spec.tolerations",
                "existing tolerations may not be removed or changed, only added to",
            )
            break
    old_ads = os_.get("activeDeadlineSeconds")
    new_ads = ns.get("activeDeadlineSeconds")
    if old_ads is not None and (
        new_ads is None or (isinstance(new_ads, int) and new_ads > old_ads)
    ):
        invalid(
            errs,
            "spec.activeDeadlineSeconds",
            new_ads,
            f"may only be lowered once set (was {old_ads})",
        )


def _immutable(errs: Errs, new: Obj, old: Obj, path: tuple[str, ...], fix: str) -> None:
    a: Any = new
    b: Any = old
    for p in path:
        a = a.get(p) if isinstance(a, dict) else None
        b = b.get(p) if isinstance(b, dict) else None
    if a != b:
        invalid(errs, ".".join(path), a, f"field is immutable; {fix}")


def _validate_node_update(errs: Errs, new: Obj, old: Obj) -> None:
    """A node's pod subnet is set once (by node IPAM) and never changed, as in Kubernetes:
    the kubelet's bridge and every peer's route were made for it."""
    old_spec, new_spec = as_dict(old.get("spec")), as_dict(new.get("spec"))
    for key in ("podCIDR", "podCIDRs"):
        was, now = old_spec.get(key), new_spec.get(key)
        if was and now != was:
            forbidden(
                errs,
                f"spec.{key}",
                f'node updates may not change {key} except from "" to valid; '
                "delete and recreate the Node to give it another subnet",
            )


def validate_update(errs: Errs, kind: str, new: Obj, old: Obj) -> None:
    """Append a Cause for every immutable field ``new`` changes relative to ``old``."""
    nm = as_dict(new.get("metadata"))
    om = as_dict(old.get("metadata"))
    if nm.get("name") != om.get("name"):
        invalid(
            errs,
            "metadata.name",
            nm.get("name"),
            "field is immutable; to rename, create a new object and delete the old one",
        )
    if (nm.get("namespace") or "") != (om.get("namespace") or "") and nm.get("namespace"):
        invalid(
            errs,
            "metadata.namespace",
            nm.get("namespace"),
            "field is immutable; create the object in the other namespace instead",
        )
    if nm.get("uid") and om.get("uid") and nm["uid"] != om["uid"]:
        invalid(
            errs,
            "metadata.uid",
            nm["uid"],
            "field is immutable; leave uid out or copy it from the stored object",
        )
    if kind == "Pod":
        _validate_pod_update(errs, new, old)
    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        kinds.validate_binding_update(errs, new, old)
    elif kind == "PriorityClass":
        policy.validate_priority_class_update(errs, new, old)
    elif kind == "PersistentVolume":
        validate_persistent_volume_update(errs, new, old)
    elif kind == "PersistentVolumeClaim":
        validate_persistent_volume_claim_update(errs, new, old)
    elif kind == "StorageClass":
        validate_storage_class_update(errs, new, old)
    elif kind == "IngressClass":
        validate_ingress_class_update(errs, new, old)
    elif kind == "CertificateSigningRequest":
        validate_csr_update(errs, new, old)
    elif kind == "StatefulSet":
        validate_statefulset_update(errs, new, old)
    elif kind == "ControllerRevision":
        _immutable(errs, new, old, ("data",), "create a new ControllerRevision instead")
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        _immutable(
            errs,
            new,
            old,
            ("spec", "selector"),
            "a new selector needs a new object; delete and recreate it",
        )
    elif kind == "Node":
        _validate_node_update(errs, new, old)
    elif kind == "Job":
        _immutable(errs, new, old, ("spec", "selector"), "delete and recreate the Job to change it")
        _immutable(
            errs,
            new,
            old,
            ("spec", "template"),
            "delete and recreate the Job to change its pod template",
        )
    elif kind == "EndpointSlice":
        _immutable(errs, new, old, ("addressType",), "create a new EndpointSlice instead")
    elif kind == "Service":
        validate_service_ips_update(errs, as_dict(new.get("spec")), as_dict(old.get("spec")))
    elif kind in ("ConfigMap", "Secret") and old.get("immutable"):
        for key in ("data", "binaryData", "immutable"):
            if new.get(key) != old.get(key):
                forbidden(
                    errs,
                    key,
                    "field is immutable when `immutable` is set; delete and recreate the object to change it",
                )
