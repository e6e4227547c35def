"""Names shared by everything that handles PersistentVolumes, claims and StorageClasses:
annotations, finalizers, phases and the built-in class (Kubernetes' own spellings)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Obj = dict[str, Any]

ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
VOLUME_MODES = ("Filesystem", "Block")
RECLAIM_POLICIES = ("Retain", "Delete", "Recycle")
CLASS_RECLAIM_POLICIES = ("Retain", "Delete")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
# Written by the scheduler on a WaitForFirstConsumer claim: the node of its first pod.
SELECTED_NODE_ANNOTATION = "volume.kubernetes.io/selected-node"
# Written by the PV controller on a claim it wants provisioned, naming the provisioner.
STORAGE_PROVISIONER_ANNOTATION = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER_ANNOTATION = "volume.beta.kubernetes.io/storage-provisioner"
# On a PV: who provisioned it; on a claim: that the controller completed its binding.
PROVISIONED_BY_ANNOTATION = "pv.kubernetes.io/provisioned-by"
BIND_COMPLETED_ANNOTATION = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER_ANNOTATION = "pv.kubernetes.io/bound-by-controller"

PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection"
# Held on a provisioned local PV until its node's kubelet has removed the data (Delete).
LOCAL_DATA_FINALIZER = "kubelab.io/local-volume-data"

HOSTNAME_LABEL = "kubernetes.io/hostname"

LOCAL_PATH_CLASS = "local-path"
LOCAL_PATH_PROVISIONER = "rancher.io/local-path"
# A ReadOnlyMany model cache: one cluster-wide volume, one node-local copy per box, each
# filled once by the first pod there (docs/storage.md, "A model cache on every box").
NODE_CACHE_PROVISIONER = "kubelab.io/node-cache"
# The marker a fill writes last: the copy on that node is complete.
CACHE_COMPLETE_MARKER = ".complete"
# On a Node: the node-cache volumes whose copy there is complete (comma-separated names),
# kept by that node's kubelet; the scheduler prefers those nodes.
NODE_CACHES_ANNOTATION = "kubelab.io/complete-caches"
# Classes whose volumes are made by hand (Kubernetes' name for "no provisioner").
NO_PROVISIONER = "kubernetes.io/no-provisioner"


# GetAccessModesAsString: the short forms, always in this order.
_MODE_SHORT = (
    ("ReadWriteOnce", "RWO"),
    ("ReadOnlyMany", "ROX"),
    ("ReadWriteMany", "RWX"),
    ("ReadWriteOncePod", "RWOP"),
)


def access_modes_string(modes: Any) -> str:
    """``RWO,ROX``: access modes as kubectl abbreviates them."""
    given = set(modes) if isinstance(modes, list) else set()
    return ",".join(short for mode, short in _MODE_SHORT if mode in given)


def pod_claims(pod: Obj) -> dict[str, str]:
    """Volume name → claim name, for the ``persistentVolumeClaim`` volumes of a pod."""
    out: dict[str, str] = {}
    for v in (pod.get("spec") or {}).get("volumes") or []:
        claim = ((v or {}).get("persistentVolumeClaim") or {}).get("claimName")
        if claim:
            out[str(v.get("name", ""))] = str(claim)
    return out


def is_default_class(sc: Obj) -> bool:
    """Marked as the default class (either annotation, as Kubernetes reads them)."""
    ann = (sc.get("metadata") or {}).get("annotations") or {}
    return "true" in (ann.get(DEFAULT_CLASS_ANNOTATION), ann.get(BETA_DEFAULT_CLASS_ANNOTATION))


def default_class(classes: Iterable[Obj]) -> Obj | None:
    """The default class; of several marked, the newest (then the first name), as
    Kubernetes chooses."""
    found = sorted(
        (c for c in classes if is_default_class(c)), key=lambda c: str(c["metadata"]["name"])
    )
    if not found:
        return None
    return max(found, key=lambda c: str(c["metadata"].get("creationTimestamp") or ""))


def local_path_class() -> Obj:
    """The built-in default class, as k3s ships it: manifests written for k3s, kind and
    k3d that name ``local-path`` (or no class) work unchanged."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": LOCAL_PATH_CLASS,
            "annotations": {DEFAULT_CLASS_ANNOTATION: "true"},
        },
        "provisioner": LOCAL_PATH_PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }


# The PV volume sources kubelab's kubelet mounts (a host directory either way).
PV_SOURCES = ("local", "hostPath")
# On a Node: the directory under which its kubelet keeps local-path volumes.
STORAGE_DIR_ANNOTATION = "kubelab.io/storage-dir"
