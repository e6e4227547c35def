"""Table cells for PersistentVolumes, PersistentVolumeClaims and StorageClasses, as
kubectl's printers show them (pkg/printers/internalversion)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from api.storage import access_modes_string, is_default_class
from apiserver.tables.format import AGE_COL, NAME_COL, Obj, age_cell, col, obj_meta, obj_name

_VOLUME_MODE_COL = col(
    "VolumeMode",
    "volumeMode defines if a volume is intended to be used with a formatted "
    "filesystem or to remain in raw block state.",
    priority=1,
)
_VAC_COL = col("VolumeAttributesClass", "The VolumeAttributesClass of the volume.")


def _phase(obj: Obj) -> str:
    if obj_meta(obj).get("deletionTimestamp"):
        return "Terminating"
    return str((obj.get("status") or {}).get("phase") or "")


PV_COLUMNS = [
    NAME_COL,
    col("Capacity", "capacity is the description of the persistent volume's resources."),
    col("Access Modes", "accessModes contains all ways the volume can be mounted."),
    col("Reclaim Policy", "What happens to a persistent volume when released from its claim."),
    col("Status", "phase indicates if a volume is available, bound to a claim, or released."),
    col(
        "Claim",
        "claimRef is part of a bi-directional binding between PersistentVolume and "
        "PersistentVolumeClaim.",
    ),
    col(
        "StorageClass",
        "storageClassName is the name of StorageClass to which this persistent volume belongs.",
    ),
    _VAC_COL,
    col("Reason", "reason is a brief CamelCase string that describes any failure."),
    AGE_COL,
    _VOLUME_MODE_COL,
]


def pv_cells(pv: Obj, now: datetime) -> list[Any]:
    spec = pv.get("spec") or {}
    ref = spec.get("claimRef") or {}
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    return [
        obj_name(pv),
        str((spec.get("capacity") or {}).get("storage") or "0"),
        access_modes_string(spec.get("accessModes")),
        spec.get("persistentVolumeReclaimPolicy") or "",
        _phase(pv),
        claim,
        spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        (pv.get("status") or {}).get("reason") or "",
        age_cell(pv, now),
        spec.get("volumeMode") or "<unset>",
    ]


PVC_COLUMNS = [
    NAME_COL,
    col("Status", "phase represents the current phase of PersistentVolumeClaim."),
    col(
        "Volume", "volumeName is the binding reference to the PersistentVolume backing this claim."
    ),
    col("Capacity", "capacity represents the actual resources of the underlying volume."),
    col(
        "Access Modes",
        "accessModes contains the actual access modes the volume backing the PVC has.",
    ),
    col("StorageClass", "storageClassName is the name of the StorageClass required by the claim."),
    _VAC_COL,
    AGE_COL,
    _VOLUME_MODE_COL,
]


def pvc_cells(pvc: Obj, now: datetime) -> list[Any]:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    volume = spec.get("volumeName") or ""
    capacity = access = ""
    if volume:  # as kubectl: only a bound claim shows what it got
        capacity = str((status.get("capacity") or {}).get("storage") or "")
        access = access_modes_string(status.get("accessModes"))
    return [
        obj_name(pvc),
        _phase(pvc),
        volume,
        capacity,
        access,
        spec.get("storageClassName") or "",
        spec.get("volumeAttributesClassName") or "<unset>",
        age_cell(pvc, now),
        spec.get("volumeMode") or "<unset>",
    ]


STORAGE_CLASS_COLUMNS = [
    NAME_COL,
    col("Provisioner", "provisioner indicates the type of the provisioner."),
    col(
        "ReclaimPolicy",
        "reclaimPolicy controls the reclaimPolicy for dynamically "
        "provisioned PersistentVolumes of this storage class.",
    ),
    col(
        "VolumeBindingMode",
        "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.",
    ),
    col(
        "AllowVolumeExpansion",
        "allowVolumeExpansion shows whether the storage class allow volume expand.",
        ctype="boolean",
    ),
    AGE_COL,
]


def storage_class_cells(sc: Obj, now: datetime) -> list[Any]:
    name = obj_name(sc)
    return [
        f"{name} (default)" if is_default_class(sc) else name,
        sc.get("provisioner") or "",
        sc.get("reclaimPolicy") or "Delete",
        sc.get("volumeBindingMode") or "Immediate",
        sc.get("allowVolumeExpansion") is True,
        age_cell(sc, now),
    ]
