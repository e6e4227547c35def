"""What the PV controller does about one claim or one volume: pure functions of the cached
objects, returning API actions (kube-controller-manager's persistentvolume-binder,
-protection and local-path provisioning, in one place).

Claims: a bound claim's status follows its volume; an unbound one is bound to the best
matching volume (``api.volume_match``), or, for a class with a provisioner, a volume is
made for it. ``WaitForFirstConsumer`` claims wait for the scheduler's
``volume.kubernetes.io/selected-node``; ``rancher.io/local-path`` then makes a ``local``
volume on that node, under the directory its kubelet announces (``kubelab.io/storage-dir``),
pinned there by node affinity; the kubelet creates the directory (kubelet/local_volumes.py).

Volumes: Available without a claim, Bound with one, Released once their claim is gone;
reclaim ``Delete`` deletes a provisioned volume (its kubelet removes the data before the
``kubelab.io/local-volume-data`` finalizer goes), ``Retain`` keeps it Released.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from api.storage import (
    BIND_COMPLETED_ANNOTATION,
    BOUND_BY_CONTROLLER_ANNOTATION,
    HOSTNAME_LABEL,
    LOCAL_DATA_FINALIZER,
    LOCAL_PATH_PROVISIONER,
    NO_PROVISIONER,
    NODE_CACHE_PROVISIONER,
    PROVISIONED_BY_ANNOTATION,
    PV_PROTECTION_FINALIZER,
    PVC_PROTECTION_FINALIZER,
    SELECTED_NODE_ANNOTATION,
    STORAGE_DIR_ANNOTATION,
    STORAGE_PROVISIONER_ANNOTATION,
    default_class,
    pod_claims,
)
from api.volume_match import best_volume, claim_request, reserved_for, volume_capacity

from . import actions as A
from .objutil import Obj, is_deleting, meta, name_of, namespace_of

PVS, PVCS = "persistentvolumes", "persistentvolumeclaims"
TERMINAL = ("Succeeded", "Failed")


def claim_ref(pvc: Obj) -> Obj:
    m = meta(pvc)
    return {
        "kind": "PersistentVolumeClaim",
        "namespace": m.get("namespace"),
        "name": m.get("name"),
        "uid": m.get("uid"),
        "apiVersion": "v1",
        "resourceVersion": m.get("resourceVersion"),
    }


def pods_using(pods: Iterable[Obj], claim: str) -> list[Obj]:
    """The pods of one namespace that mount ``claim`` and have not terminated."""
    return [
        p
        for p in pods
        if (p.get("status") or {}).get("phase") not in TERMINAL and claim in pod_claims(p).values()
    ]


def _without_finalizer(obj: Obj, resource: str, finalizer: str) -> A.Action:
    m = meta(obj)
    rest = [f for f in m.get("finalizers") or [] if f != finalizer]
    body = {"metadata": {"finalizers": rest, "resourceVersion": m.get("resourceVersion")}}
    return A.patch(resource, namespace_of(obj) or None, name_of(obj), body)


def _status(obj: Obj, resource: str, want: Obj) -> list[A.Action]:
    have = obj.get("status") or {}
    if all(have.get(k) == v for k, v in want.items()):
        return []
    return [
        A.patch(
            resource,
            namespace_of(obj) or None,
            name_of(obj),
            {"status": want},
            subresource="status",
        )
    ]


def provisioned_volume(pvc: Obj, sc: Obj, node: Obj) -> Obj | str:
    """The local volume ``rancher.io/local-path`` makes for ``pvc`` on ``node``, or why
    it cannot (the node's kubelet does not say where its volumes live)."""
    nm = meta(node)
    root = (nm.get("annotations") or {}).get(STORAGE_DIR_ANNOTATION)
    if not root:
        return (
            f"node {nm.get('name')} does not say where its volumes live (annotation "
            f"{STORAGE_DIR_ANNOTATION}): its kubelet predates local-path support; upgrade it"
        )
    m, spec = meta(pvc), pvc.get("spec") or {}
    name = f"pvc-{m.get('uid')}"
    hostname = (nm.get("labels") or {}).get(HOSTNAME_LABEL) or nm.get("name")
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {PROVISIONED_BY_ANNOTATION: LOCAL_PATH_PROVISIONER},
            # Held until the node's kubelet has removed the directory (reclaim Delete).
            "finalizers": [LOCAL_DATA_FINALIZER],
        },
        "spec": {
            "capacity": {
                "storage": (spec.get("resources") or {}).get("requests", {}).get("storage")
            },
            "accessModes": list(spec.get("accessModes") or []),
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": name_of(sc),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            # local-path-provisioner's directory name: the volume, namespace and claim.
            "local": {"path": f"{root.rstrip('/')}/{name}_{m.get('namespace')}_{m.get('name')}"},
            "nodeAffinity": {
                "required": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {"key": HOSTNAME_LABEL, "operator": "In", "values": [hostname]}
                            ]
                        }
                    ]
                }
            },
            "claimRef": claim_ref(pvc),
        },
    }


def node_cache_volume(pvc: Obj, sc: Obj) -> Obj | str:
    """The volume ``kubelab.io/node-cache`` makes for a ReadOnlyMany ``pvc``: no node
    affinity (every box may hold a copy); its ``hostPath`` is the copy's place relative to
    each node's storage dir (``<storage dir>/node-cache/pvc-<uid>``), which that node's
    kubelet makes on the first pod there. Or why it cannot be made."""
    m, spec = meta(pvc), pvc.get("spec") or {}
    modes = list(spec.get("accessModes") or [])
    if modes != ["ReadOnlyMany"]:
        return (
            f"{NODE_CACHE_PROVISIONER} makes ReadOnlyMany caches, one copy per node: set "
            f"accessModes: [ReadOnlyMany] (the claim asks for {modes}); the pod that fills "
            "a copy mounts it writable, every other pod read-only"
        )
    name = f"pvc-{m.get('uid')}"
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {PROVISIONED_BY_ANNOTATION: NODE_CACHE_PROVISIONER},
        },
        "spec": {
            "capacity": {
                "storage": (spec.get("resources") or {}).get("requests", {}).get("storage")
            },
            "accessModes": modes,
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": name_of(sc),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": f"/node-cache/{name}"},
            "claimRef": claim_ref(pvc),
        },
    }


def claim_actions(
    pvc: Obj,
    pvs: Mapping[str, Obj],
    classes: Mapping[str, Obj],
    nodes: Mapping[str, Obj],
    in_use: bool,
) -> list[A.Action]:
    """One step towards a bound (or, being deleted, released) claim."""
    m, spec = meta(pvc), pvc.get("spec") or {}
    ns, name = namespace_of(pvc), name_of(pvc)
    if is_deleting(pvc):
        if PVC_PROTECTION_FINALIZER in (m.get("finalizers") or []) and not in_use:
            return [_without_finalizer(pvc, PVCS, PVC_PROTECTION_FINALIZER)]
        return []
    phase = (pvc.get("status") or {}).get("phase")
    volume_name = spec.get("volumeName") or ""
    if volume_name:
        pv = pvs.get(volume_name)
        if pv is None:
            if phase == "Bound":
                return [
                    *_status(pvc, PVCS, {"phase": "Lost"}),
                    A.event(
                        pvc,
                        "Warning",
                        "ClaimLost",
                        "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
                    ),
                ]
            return _status(pvc, PVCS, {"phase": "Pending"})
        ref = (pv.get("spec") or {}).get("claimRef")
        if not ref:  # pre-bound by the user: reserve the volume for the claim
            return [A.patch(PVS, None, volume_name, {"spec": {"claimRef": claim_ref(pvc)}})]
        if not reserved_for(pv, pvc):
            return [
                *_status(pvc, PVCS, {"phase": "Pending"}),
                A.event(
                    pvc,
                    "Warning",
                    "FailedBinding",
                    f"volume {volume_name!r} already bound to a different claim.",
                ),
            ]
        out: list[A.Action] = []
        pv_spec = pv.get("spec") or {}
        if BIND_COMPLETED_ANNOTATION not in (m.get("annotations") or {}):
            out.append(
                A.patch(
                    PVCS,
                    ns,
                    name,
                    {"metadata": {"annotations": {BIND_COMPLETED_ANNOTATION: "yes"}}},
                )
            )
        out += _status(
            pvc,
            PVCS,
            {
                "phase": "Bound",
                "capacity": dict(pv_spec.get("capacity") or {}),
                "accessModes": list(pv_spec.get("accessModes") or []),
            },
        )
        out += _resize(pvc, pv, classes.get(str(spec.get("storageClassName") or "")))
        return out
    # Not bound yet.
    if spec.get("storageClassName") is None:
        # Made before any default class existed: it gets the default once there is one
        # (Kubernetes' retroactive default StorageClass assignment).
        default = default_class(classes.values())
        if default is not None:
            return [A.patch(PVCS, ns, name, {"spec": {"storageClassName": name_of(default)}})]
    class_name = str(spec.get("storageClassName") or "")
    sc = classes.get(class_name) if class_name else None
    mode = (sc or {}).get("volumeBindingMode") or "Immediate"
    selected = (m.get("annotations") or {}).get(SELECTED_NODE_ANNOTATION)
    out = _status(pvc, PVCS, {"phase": "Pending"})
    if mode == "WaitForFirstConsumer" and not selected:
        return out + [
            A.event(
                pvc,
                "Normal",
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
        ]
    node = nodes.get(selected) if selected else None
    pv = best_volume(pvc, pvs.values(), node if mode == "WaitForFirstConsumer" else None)
    if pv is not None:
        return out + [
            A.patch(
                PVS,
                None,
                name_of(pv),
                {
                    "metadata": {"annotations": {BOUND_BY_CONTROLLER_ANNOTATION: "yes"}},
                    "spec": {"claimRef": claim_ref(pvc)},
                },
            ),
            A.patch(
                PVCS,
                ns,
                name,
                {
                    "metadata": {"annotations": {BOUND_BY_CONTROLLER_ANNOTATION: "yes"}},
                    "spec": {"volumeName": name_of(pv)},
                },
            ),
        ]
    if class_name and sc is None:
        return out + [
            A.event(
                pvc,
                "Warning",
                "ProvisioningFailed",
                f'storageclass.storage.k8s.io "{class_name}" not found',
            )
        ]
    if sc is None:
        return out + [
            A.event(
                pvc,
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
        ]
    return out + _provision(pvc, sc, mode, selected, node)


def _provision(
    pvc: Obj, sc: Obj, mode: str, selected: str | None, node: Obj | None
) -> list[A.Action]:
    provisioner = str(sc.get("provisioner") or "")
    if provisioner == NO_PROVISIONER:
        return [
            A.event(
                pvc,
                "Warning",
                "ProvisioningFailed",
                f"no volume matches and StorageClass {name_of(sc)} has no provisioner "
                f"({NO_PROVISIONER}): create a matching PersistentVolume",
            )
        ]
    if provisioner == NODE_CACHE_PROVISIONER:
        return _provisioned(pvc, node_cache_volume(pvc, sc), provisioner, "on every node")
    if provisioner != LOCAL_PATH_PROVISIONER:
        return [
            A.event(
                pvc,
                "Normal",
                "ExternalProvisioning",
                f"Waiting for a volume to be created either by the external provisioner "
                f"'{provisioner}' or manually by the system administrator. If volume "
                "creation is delayed, please verify that the provisioner is running and "
                "correctly registered.",
            )
        ]
    if mode != "WaitForFirstConsumer":
        return [
            A.event(
                pvc,
                "Warning",
                "ProvisioningFailed",
                f"{LOCAL_PATH_PROVISIONER} makes node-local volumes: set "
                f"volumeBindingMode: WaitForFirstConsumer on StorageClass {name_of(sc)} so "
                "the volume is made where the pod runs",
            )
        ]
    if node is None:
        return [A.event(pvc, "Warning", "ProvisioningFailed", f'node "{selected}" not found')]
    made = provisioned_volume(pvc, sc, node)
    return _provisioned(pvc, made, LOCAL_PATH_PROVISIONER, f"on node {name_of(node)}")


def _provisioned(pvc: Obj, made: Obj | str, provisioner: str, where: str) -> list[A.Action]:
    if isinstance(made, str):
        return [A.event(pvc, "Warning", "ProvisioningFailed", made)]
    annotate = {"metadata": {"annotations": {STORAGE_PROVISIONER_ANNOTATION: provisioner}}}
    return [
        A.patch(PVCS, namespace_of(pvc), name_of(pvc), annotate),
        A.create(PVS, None, made),
        A.event(
            pvc,
            "Normal",
            "ProvisioningSucceeded",
            f"Successfully provisioned volume {name_of(made)} {where}",
        ),
    ]


def _resize(pvc: Obj, pv: Obj, sc: Obj | None) -> list[A.Action]:
    """Grow a provisioned local volume to a bigger request (admission has already
    checked that the class allows it). The volume's capacity is what kubelab records;
    whether the node's filesystem enforces it is reported on the volume by its kubelet."""
    want = claim_request(pvc)
    if want <= volume_capacity(pv) or sc is None or sc.get("allowVolumeExpansion") is not True:
        return []
    if (meta(pv).get("annotations") or {}).get(PROVISIONED_BY_ANNOTATION) != LOCAL_PATH_PROVISIONER:
        return [
            A.event(
                pvc,
                "Warning",
                "ExternalExpanding",
                "only volumes provisioned by rancher.io/local-path are expanded by kubelab",
            )
        ]
    size = ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")
    return [
        A.patch(PVS, None, name_of(pv), {"spec": {"capacity": {"storage": size}}}),
        A.event(pvc, "Normal", "VolumeResizeSuccessful", f"resized volume {name_of(pv)} to {size}"),
    ]


def volume_actions(pv: Obj, claim: Obj | None) -> list[A.Action]:
    """One step for a volume: its phase from its claim, protection, reclaim."""
    m, spec = meta(pv), pv.get("spec") or {}
    ref = spec.get("claimRef") or None
    claimed = claim is not None and ref is not None and reserved_for(pv, claim)
    bound = claimed and (claim or {}).get("spec", {}).get("volumeName") in ("", None, name_of(pv))
    if is_deleting(pv):
        if PV_PROTECTION_FINALIZER in (m.get("finalizers") or []) and not bound:
            return [_without_finalizer(pv, PVS, PV_PROTECTION_FINALIZER)]
        return []
    if ref is None:
        return _status(pv, PVS, {"phase": "Available"})
    if bound:
        return _status(pv, PVS, {"phase": "Bound"})
    if claimed:  # its claim is bound to another volume: a stale reservation
        if (m.get("annotations") or {}).get(BOUND_BY_CONTROLLER_ANNOTATION):
            return [A.patch(PVS, None, name_of(pv), {"spec": {"claimRef": None}})]
        return _status(pv, PVS, {"phase": "Available"})
    if not ref.get("uid"):  # reserved by the user for a claim not made yet
        return _status(pv, PVS, {"phase": "Available"})
    # The claim it was bound to is gone: reclaim.
    policy = spec.get("persistentVolumeReclaimPolicy") or "Retain"
    if policy == "Delete":
        made_by = (m.get("annotations") or {}).get(PROVISIONED_BY_ANNOTATION)
        # A node cache's copies are removed by each node's kubelet once its PV is gone.
        if made_by in (LOCAL_PATH_PROVISIONER, NODE_CACHE_PROVISIONER):
            return [*_status(pv, PVS, {"phase": "Released"}), A.delete(PVS, None, name_of(pv))]
        message = (
            "reclaim policy Delete: kubelab deletes only volumes provisioned by "
            f"{LOCAL_PATH_PROVISIONER}; remove the data and this PersistentVolume by hand"
        )
        if (pv.get("status") or {}).get("phase") == "Failed":
            return []
        return [
            *_status(pv, PVS, {"phase": "Failed", "message": message}),
            A.event(pv, "Warning", "VolumeFailedDelete", message),
        ]
    return _status(pv, PVS, {"phase": "Released"})
