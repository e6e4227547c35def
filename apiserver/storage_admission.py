"""Admission for the storage kinds, as Kubernetes' plugins do it:

- DefaultStorageClass: a new claim that names no class (``storageClassName`` left out,
  not ``""``) gets the default class, the newest one if several are marked.
- StorageObjectInUseProtection: every new claim gets ``kubernetes.io/pvc-protection``,
  every new volume ``kubernetes.io/pv-protection``; the PV controller removes them once
  no pod uses the claim / no claim is bound to the volume.
- PersistentVolumeClaimResize: a claim's storage request may only grow when its class
  says ``allowVolumeExpansion: true``.

The class index is kept in the serialised write path (``ClusterState.before_write``).
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.quantity import parse_quantity
from api.storage import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER, default_class

Obj = dict[str, Any]


def _add_finalizer(obj: Obj, finalizer: str) -> None:
    meta = obj.setdefault("metadata", {})
    finalizers = meta.get("finalizers")
    if not isinstance(finalizers, list):
        finalizers = meta["finalizers"] = []
    if finalizer not in finalizers:
        finalizers.append(finalizer)


def _storage_request(pvc: Obj) -> Any:
    return (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")


class StorageClasses:
    """Every stored StorageClass by name."""

    def __init__(self) -> None:
        self.classes: dict[str, Obj] = {}

    def load(self, objs: list[Obj]) -> None:
        self.classes = {o["metadata"]["name"]: o for o in objs}

    def record(self, name: str, new: Obj | None) -> None:
        if new is None:
            self.classes.pop(name, None)
        else:
            self.classes[name] = new

    def admit_create(self, kind: str, obj: Obj) -> None:
        """Fill in a new claim's class and the protection finalizers."""
        if kind == "PersistentVolumeClaim":
            spec = obj.get("spec")
            if isinstance(spec, dict) and spec.get("storageClassName") is None:
                default = default_class(self.classes.values())
                if default is not None:
                    spec["storageClassName"] = default["metadata"]["name"]
            _add_finalizer(obj, PVC_PROTECTION_FINALIZER)
        elif kind == "PersistentVolume":
            _add_finalizer(obj, PV_PROTECTION_FINALIZER)

    def check_claim_resize(self, name: str, old: Obj, new: Obj) -> None:
        """403 for a bigger request on a claim whose class does not allow expansion."""
        old_req, new_req = _storage_request(old), _storage_request(new)
        if old_req == new_req or old_req is None or new_req is None:
            return
        try:
            if parse_quantity(new_req) <= parse_quantity(old_req):
                return
        except (ValueError, TypeError):
            return  # validation reports it
        class_name = (new.get("spec") or {}).get("storageClassName") or ""
        sc = self.classes.get(class_name)
        if sc is None or sc.get("allowVolumeExpansion") is not True:
            raise ApiError(
                403,
                f'persistentvolumeclaims "{name}" is forbidden: only dynamically provisioned '
                "pvc can be resized and the storageclass that provisions the pvc must support "
                f"resize (set allowVolumeExpansion: true on StorageClass {class_name or '<none>'})",
                "Forbidden",
                name,
                "persistentvolumeclaims",
            )
