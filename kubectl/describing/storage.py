"""Describe pages of PersistentVolumeClaims, PersistentVolumes and StorageClasses, in
kubectl's layout: what a claim is bound to and which pods use it, where a volume lives."""

from __future__ import annotations

from typing import Any

from api.registry import ResourceInfo
from api.storage import access_modes_string as _modes
from api.storage import is_default_class, pod_claims
from kubectl.describing.common import meta_of
from kubectl.describing.writer import NONE, Page

Obj = dict[str, Any]


def _finalizers(obj: Obj) -> str:
    return "[" + ", ".join(meta_of(obj).get("finalizers") or []) + "]"


def pods_using(pods: list[Obj], claim: str) -> list[str]:
    """Names of the pods that mount ``claim`` (kubectl's ``Used By``)."""
    return [str(meta_of(p).get("name")) for p in pods if claim in pod_claims(p).values()]


def describe_claim(page: Page, pvc: Obj, info: ResourceInfo, pods: list[Obj]) -> None:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    m = meta_of(pvc)
    page.kv(0, "Name", m.get("name"))
    page.kv(0, "Namespace", m.get("namespace"))
    page.kv(0, "StorageClass", spec.get("storageClassName"))
    phase = "Terminating" if m.get("deletionTimestamp") else status.get("phase")
    page.kv(0, "Status", phase)
    page.kv(0, "Volume", spec.get("volumeName"))
    page.map(0, "Labels", m.get("labels"))
    page.map(0, "Annotations", m.get("annotations"), sep=": ")
    page.kv(0, "Finalizers", _finalizers(pvc))
    bound = bool(spec.get("volumeName"))
    page.kv(0, "Capacity", (status.get("capacity") or {}).get("storage") if bound else "")
    page.kv(0, "Access Modes", _modes(status.get("accessModes")) if bound else "")
    page.kv(0, "VolumeMode", spec.get("volumeMode"))
    page.kv(0, "Used By", ", ".join(pods_using(pods, str(m.get("name")))) or NONE)


def _terms(page: Page, pv: Obj) -> None:
    na = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    terms = na.get("nodeSelectorTerms") or []
    if not terms:
        page.kv(0, "Node Affinity", NONE)
        return
    page.line(0, "Node Affinity:")
    page.line(1, "Required Terms:")
    for i, term in enumerate(terms):
        exprs = [
            f"{e.get('key')} {str(e.get('operator', '')).lower()} [{', '.join(e.get('values') or [])}]"
            for e in term.get("matchExpressions") or []
        ]
        page.kv(2, f"Term {i}", exprs[0] if exprs else NONE)
        for more in exprs[1:]:
            page.line(2, "", more)


def describe_volume(page: Page, pv: Obj, info: ResourceInfo) -> None:
    spec, status = pv.get("spec") or {}, pv.get("status") or {}
    m = meta_of(pv)
    page.kv(0, "Name", m.get("name"))
    page.map(0, "Labels", m.get("labels"))
    page.map(0, "Annotations", m.get("annotations"), sep=": ")
    page.kv(0, "Finalizers", _finalizers(pv))
    page.kv(0, "StorageClass", spec.get("storageClassName"))
    page.kv(0, "Status", "Terminating" if m.get("deletionTimestamp") else status.get("phase"))
    ref = spec.get("claimRef") or {}
    page.kv(0, "Claim", f"{ref.get('namespace')}/{ref.get('name')}" if ref else "")
    page.kv(0, "Reclaim Policy", spec.get("persistentVolumeReclaimPolicy"))
    page.kv(0, "Access Modes", _modes(spec.get("accessModes")))
    page.kv(0, "VolumeMode", spec.get("volumeMode"))
    page.kv(0, "Capacity", (spec.get("capacity") or {}).get("storage"))
    _terms(page, pv)
    page.kv(0, "Message", status.get("message"))
    page.line(0, "Source:")
    if spec.get("local"):
        page.kv(1, "Type", "LocalVolume (a persistent volume backed by local storage on a node)")
        page.kv(1, "Path", spec["local"].get("path"))
    elif spec.get("hostPath"):
        page.kv(1, "Type", "HostPath (bare host directory volume)")
        page.kv(1, "Path", spec["hostPath"].get("path"))
        page.kv(1, "HostPathType", spec["hostPath"].get("type"))


def describe_storage_class(page: Page, sc: Obj, info: ResourceInfo) -> None:
    m = meta_of(sc)
    page.kv(0, "Name", m.get("name"))
    page.kv(0, "IsDefaultClass", "Yes" if is_default_class(sc) else "No")
    page.map(0, "Annotations", m.get("annotations"), sep=": ")
    page.kv(0, "Provisioner", sc.get("provisioner"))
    page.map(0, "Parameters", sc.get("parameters"))
    ave = sc.get("allowVolumeExpansion")
    page.kv(0, "AllowVolumeExpansion", "<unset>" if ave is None else str(ave))
    page.kv(0, "MountOptions", ", ".join(sc.get("mountOptions") or []) or NONE)
    page.kv(0, "ReclaimPolicy", sc.get("reclaimPolicy"))
    page.kv(0, "VolumeBindingMode", sc.get("volumeBindingMode"))
