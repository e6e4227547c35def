"""Validation of PersistentVolumes, PersistentVolumeClaims and StorageClasses, with
kube-apiserver's rules and wording, and their update rules (what may change once stored).

What kubelab cannot act on is refused here rather than stored and ignored: block volumes,
volume sources the kubelet does not mount, snapshots/cloning (dataSource), mount options.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from api.quantity import parse_quantity
from api.selectors import LabelSelector, qualified_name_error
from api.storage import (
    ACCESS_MODES,
    BINDING_MODES,
    CLASS_RECLAIM_POLICIES,
    LOCAL_PATH_PROVISIONER,
    PV_SOURCES,
    RECLAIM_POLICIES,
    VOLUME_MODES,
)
from api.validation.common import (
    Errs,
    as_dict,
    check_name,
    forbidden,
    invalid,
    required,
    show,
    unsupported,
)
from api.validation.pod import check_node_selector_requirement

Obj = dict[str, Any]

_PVC_IMMUTABLE_MSG = (
    "spec is immutable after creation except resources.requests for bound claims; "
    "delete and recreate the claim to change anything else"
)


def _check_access_modes(errs: Errs, field: str, modes: Any) -> None:
    if not modes:
        required(errs, field, "at least 1 access mode is required (e.g. [ReadWriteOnce])")
        return
    if not isinstance(modes, list):
        invalid(errs, field, modes, "must be a list of access modes (e.g. [ReadWriteOnce])")
        return
    for i, m in enumerate(modes):
        if m not in ACCESS_MODES:
            unsupported(errs, f"{field}[{i}]", m, ACCESS_MODES)
    if "ReadWriteOncePod" in modes and len(modes) > 1:
        forbidden(errs, field, "may not use ReadWriteOncePod with other access modes")


def _check_volume_mode(errs: Errs, field: str, mode: Any) -> None:
    if mode is None:
        return
    if mode not in VOLUME_MODES:
        unsupported(errs, field, mode, VOLUME_MODES)
    elif mode == "Block":
        forbidden(errs, field, "raw block volumes are not supported by kubelab; use Filesystem")


def _storage_quantity(errs: Errs, field: str, value: Any) -> Decimal | None:
    """A storage size: a quantity greater than zero."""
    try:
        q = parse_quantity(value)
    except (ValueError, TypeError):
        invalid(errs, field, value, 'must be a quantity such as "10Gi" or "500Mi"')
        return None
    if q <= 0:
        invalid(errs, field, value, "must be greater than zero")
        return None
    return q


def _check_class_name(errs: Errs, field: str, name: Any) -> None:
    # "" is a valid value: it asks for no class (and no default class).
    if name is not None and name != "":
        check_name(errs, field, name, "subdomain")


def _check_selector(errs: Errs, field: str, sel: Any) -> None:
    if sel is None:
        return
    if not isinstance(sel, dict):
        invalid(errs, field, sel, "must be a label selector (matchLabels: {tier: fast})")
        return
    try:
        LabelSelector.from_dict(sel)
    except ValueError as exc:
        invalid(errs, field, sel, str(exc))


def _check_mount_options(errs: Errs, field: str, opts: Any) -> None:
    if opts:
        forbidden(
            errs,
            field,
            "mount options are not supported: kubelab's local and hostPath volumes are "
            "directories bind-mounted into the container; remove mountOptions",
        )


# ---------------------------------------------------------------- PersistentVolume


def _pv_sources(spec: Obj) -> list[str]:
    known = (*PV_SOURCES, "nfs", "csi", "iscsi", "rbd", "cephfs", "fc", "flexVolume")
    extra = [k for k in spec if k not in _PV_SPEC_FIELDS and spec[k] is not None]
    return [k for k in known if spec.get(k) is not None] + [k for k in extra if k not in known]


_PV_SPEC_FIELDS = frozenset(
    {
        "capacity",
        "accessModes",
        "claimRef",
        "persistentVolumeReclaimPolicy",
        "storageClassName",
        "mountOptions",
        "volumeMode",
        "nodeAffinity",
        "volumeAttributesClassName",
    }
)


def _check_node_affinity(errs: Errs, field: str, na: Any) -> bool:
    """A PV's nodeAffinity; True when it has required terms."""
    if na is None:
        return False
    if not isinstance(na, dict):
        invalid(errs, field, na, "must be an object with required.nodeSelectorTerms")
        return False
    req = na.get("required")
    if not isinstance(req, dict):
        required(errs, f"{field}.required", "must have at least one node selector term")
        return False
    tf = f"{field}.required.nodeSelectorTerms"
    terms = req.get("nodeSelectorTerms")
    if not terms or not isinstance(terms, list):
        required(errs, tf, "must have at least one node selector term")
        return False
    for i, term in enumerate(terms):
        if not as_dict(term).get("matchExpressions") and not as_dict(term).get("matchFields"):
            required(errs, f"{tf}[{i}]", "must have at least one node selector requirement")
        for key in ("matchExpressions", "matchFields"):
            for j, r in enumerate(as_dict(term).get(key) or []):
                check_node_selector_requirement(errs, f"{tf}[{i}].{key}[{j}]", r)
    return True


def validate_persistent_volume(errs: Errs, obj: Obj) -> None:
    """Capacity (storage > 0), access modes, exactly one volume source the kubelet can
    mount (local needs node affinity), a known reclaim policy, a complete claimRef."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(errs, "spec", "a PersistentVolume needs a spec with capacity and accessModes")
        return
    _check_access_modes(errs, "spec.accessModes", spec.get("accessModes"))
    capacity = spec.get("capacity")
    if not capacity:
        required(errs, "spec.capacity", 'give the size, e.g. capacity: {storage: "10Gi"}')
    elif not isinstance(capacity, dict):
        invalid(errs, "spec.capacity", capacity, 'must be a map, e.g. {storage: "10Gi"}')
    else:
        for k in capacity:
            if k != "storage":
                unsupported(errs, "spec.capacity", k, ("storage",))
        if "storage" in capacity:
            _storage_quantity(errs, "spec.capacity[storage]", capacity["storage"])
        else:
            required(errs, "spec.capacity[storage]", 'give the size, e.g. storage: "10Gi"')
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy is not None and policy not in RECLAIM_POLICIES:
        unsupported(errs, "spec.persistentVolumeReclaimPolicy", policy, RECLAIM_POLICIES)
    elif policy == "Recycle":
        forbidden(
            errs,
            "spec.persistentVolumeReclaimPolicy",
            "Recycle is deprecated in Kubernetes and not supported; use Delete or Retain",
        )
    _check_volume_mode(errs, "spec.volumeMode", spec.get("volumeMode"))
    _check_class_name(errs, "spec.storageClassName", spec.get("storageClassName"))
    _check_mount_options(errs, "spec.mountOptions", spec.get("mountOptions"))
    if spec.get("volumeAttributesClassName"):
        forbidden(errs, "spec.volumeAttributesClassName", "VolumeAttributesClasses are not served")
    has_affinity = _check_node_affinity(errs, "spec.nodeAffinity", spec.get("nodeAffinity"))
    claim_ref = spec.get("claimRef")
    if claim_ref is not None:
        ref = as_dict(claim_ref)
        if not ref.get("name"):
            required(errs, "spec.claimRef.name", "name the claim this volume is reserved for")
        if not ref.get("namespace"):
            required(errs, "spec.claimRef.namespace", "give the claim's namespace")
    sources = _pv_sources(spec)
    if not sources:
        required(
            errs,
            "spec",
            "must specify a volume type, e.g. local: {path: /data/vol1} (with nodeAffinity) "
            "or hostPath: {path: /data/vol1}",
        )
        return
    if len(sources) > 1:
        forbidden(
            errs,
            f"spec.{sources[1]}",
            f"may not specify more than 1 volume type; keep only one of {', '.join(sources)}",
        )
    for s in sources:
        if s not in PV_SOURCES:
            forbidden(
                errs,
                f"spec.{s}",
                f"kubelab's kubelet mounts {' and '.join(PV_SOURCES)} volumes only; "
                f"use one of those",
            )
    for s in ("local", "hostPath"):
        src = spec.get(s)
        if src is None:
            continue
        path = as_dict(src).get("path")
        if not path:
            required(errs, f"spec.{s}.path", "give the directory on the node (e.g. /data/vol1)")
        elif not isinstance(path, str) or not path.startswith("/"):
            invalid(errs, f"spec.{s}.path", path, "must be an absolute path")
        elif ".." in path.split("/"):
            invalid(errs, f"spec.{s}.path", path, "must not contain '..'")
    if spec.get("local") is not None and not has_affinity:
        required(
            errs,
            "spec.nodeAffinity",
            "Local volume requires node affinity; add required.nodeSelectorTerms naming "
            "the node (kubernetes.io/hostname In [NODE])",
        )


def validate_persistent_volume_update(errs: Errs, new: Obj, old: Obj) -> None:
    """The volume source, volume mode and (once set) node affinity never change."""
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    for s in _pv_sources(os_) + [x for x in _pv_sources(ns) if x not in _pv_sources(os_)]:
        if ns.get(s) != os_.get(s):
            forbidden(
                errs,
                "spec.persistentvolumesource",
                "spec.persistentvolumesource is immutable after creation",
            )
            break
    if ns.get("volumeMode") != os_.get("volumeMode"):
        invalid(errs, "spec.volumeMode", ns.get("volumeMode"), "field is immutable")
    if os_.get("nodeAffinity") is not None and ns.get("nodeAffinity") != os_.get("nodeAffinity"):
        invalid(errs, "spec.nodeAffinity", ns.get("nodeAffinity"), "field is immutable")


# ---------------------------------------------------------------- PersistentVolumeClaim


def validate_persistent_volume_claim(errs: Errs, obj: Obj) -> None:
    """Access modes, a storage request > 0, a parseable selector; no dataSource."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        required(
            errs,
            "spec",
            'a claim needs a spec: accessModes [ReadWriteOnce], resources.requests.storage "1Gi"',
        )
        return
    _check_access_modes(errs, "spec.accessModes", spec.get("accessModes"))
    resources = spec.get("resources")
    requests = as_dict(as_dict(resources).get("requests"))
    if "storage" not in requests:
        required(
            errs,
            "spec.resources[storage]",
            'give the size, e.g. resources: {requests: {storage: "1Gi"}}',
        )
    else:
        _storage_quantity(errs, "spec.resources.requests[storage]", requests["storage"])
    limits = as_dict(as_dict(resources).get("limits"))
    if "storage" in limits and "storage" in requests:
        lim = _storage_quantity(errs, "spec.resources.limits[storage]", limits["storage"])
        try:
            req = parse_quantity(requests["storage"])
        except (ValueError, TypeError):
            req = None
        if lim is not None and req is not None and req > lim:
            invalid(
                errs,
                "spec.resources.requests[storage]",
                requests["storage"],
                f"must be less than or equal to the limit {show(limits['storage'])}",
            )
    _check_volume_mode(errs, "spec.volumeMode", spec.get("volumeMode"))
    _check_class_name(errs, "spec.storageClassName", spec.get("storageClassName"))
    _check_selector(errs, "spec.selector", spec.get("selector"))
    vn = spec.get("volumeName")
    if vn:
        check_name(errs, "spec.volumeName", vn, "subdomain")
    for key in ("dataSource", "dataSourceRef"):
        if spec.get(key) is not None:
            forbidden(
                errs,
                f"spec.{key}",
                "volume snapshots and cloning are not supported; remove it and fill the "
                "volume from an init container or a Job",
            )
    if spec.get("volumeAttributesClassName"):
        forbidden(errs, "spec.volumeAttributesClassName", "VolumeAttributesClasses are not served")


def _storage_request(spec: Obj) -> Any:
    return as_dict(as_dict(spec.get("resources")).get("requests")).get("storage")


def validate_persistent_volume_claim_update(errs: Errs, new: Obj, old: Obj) -> None:
    """Kubernetes' rule: the spec is fixed, except that a bound claim may grow its storage
    request (whether its class allows that is the apiserver's admission to say), an
    unset ``volumeName`` may be set once (binding), and an unset class may be filled in."""
    ns, os_ = as_dict(new.get("spec")), as_dict(old.get("spec"))
    masked_new, masked_old = dict(ns), dict(os_)
    for m in (masked_new, masked_old):
        res = dict(as_dict(m.get("resources")))
        res.pop("requests", None)
        m["resources"] = res
    if not os_.get("volumeName"):
        masked_new.pop("volumeName", None)
        masked_old.pop("volumeName", None)
    if os_.get("storageClassName") is None:
        masked_new.pop("storageClassName", None)
    if masked_new != masked_old:
        forbidden(errs, "spec", _PVC_IMMUTABLE_MSG)
        return
    new_req, old_req = _storage_request(ns), _storage_request(os_)
    if new_req == old_req:
        return
    requests_new = dict(as_dict(as_dict(ns.get("resources")).get("requests")))
    requests_old = dict(as_dict(as_dict(os_.get("resources")).get("requests")))
    requests_new.pop("storage", None)
    requests_old.pop("storage", None)
    if requests_new != requests_old:
        forbidden(errs, "spec", _PVC_IMMUTABLE_MSG)
        return
    if (old.get("status") or {}).get("phase") != "Bound":
        forbidden(errs, "spec", _PVC_IMMUTABLE_MSG)
        return
    try:
        grows = parse_quantity(new_req) >= parse_quantity(old_req)
    except (ValueError, TypeError):
        return  # the spec validator reports the bad quantity
    if not grows:
        forbidden(
            errs,
            "spec.resources.requests.storage",
            f"field can not be less than previous value ({old_req}); volumes only grow",
        )


# ---------------------------------------------------------------- StorageClass


def validate_storage_class(errs: Errs, obj: Obj) -> None:
    """A provisioner (a qualified name), known reclaim and binding modes, string
    parameters (none for local-path, which has nothing to tune)."""
    prov = obj.get("provisioner")
    if not prov:
        required(errs, "provisioner", f"name the provisioner, e.g. {LOCAL_PATH_PROVISIONER}")
    elif not isinstance(prov, str):
        invalid(errs, "provisioner", prov, "must be a string")
    else:
        err = qualified_name_error(prov)
        if err:
            invalid(errs, "provisioner", prov, err)
    policy = obj.get("reclaimPolicy")
    if policy is not None and policy not in CLASS_RECLAIM_POLICIES:
        unsupported(errs, "reclaimPolicy", policy, CLASS_RECLAIM_POLICIES)
    mode = obj.get("volumeBindingMode")
    if mode is None:
        required(errs, "volumeBindingMode", "Immediate or WaitForFirstConsumer")
    elif mode not in BINDING_MODES:
        unsupported(errs, "volumeBindingMode", mode, BINDING_MODES)
    params = obj.get("parameters")
    if params is not None:
        if not isinstance(params, dict):
            invalid(errs, "parameters", params, "must be a map of strings")
        else:
            if len(params) > 512:
                invalid(errs, "parameters", len(params), "must have at most 512 entries")
            for k, v in params.items():
                if not k:
                    invalid(errs, "parameters", k, "key must not be empty")
                if not isinstance(v, str):
                    invalid(errs, f"parameters[{k}]", v, "values must be strings; quote it")
            if params and prov == LOCAL_PATH_PROVISIONER:
                forbidden(
                    errs,
                    "parameters",
                    f"{LOCAL_PATH_PROVISIONER} takes no parameters in kubelab (volumes live "
                    "under each kubelet's --storage-dir); remove them",
                )
    _check_mount_options(errs, "mountOptions", obj.get("mountOptions"))
    ave = obj.get("allowVolumeExpansion")
    if ave is not None and not isinstance(ave, bool):
        invalid(errs, "allowVolumeExpansion", ave, "must be true or false")
    if obj.get("allowedTopologies"):
        forbidden(
            errs,
            "allowedTopologies",
            "allowedTopologies is not supported; pin pods with nodeSelector or node affinity "
            "instead (a WaitForFirstConsumer volume is made on its first pod's node)",
        )


def validate_storage_class_update(errs: Errs, new: Obj, old: Obj) -> None:
    """What made the existing volumes may not change (kube-apiserver's wording)."""
    for key in ("parameters", "provisioner", "reclaimPolicy"):
        if new.get(key) != old.get(key):
            forbidden(errs, key, f"updates to {key} are forbidden.")
    if new.get("volumeBindingMode") != old.get("volumeBindingMode"):
        invalid(errs, "volumeBindingMode", new.get("volumeBindingMode"), "field is immutable")
