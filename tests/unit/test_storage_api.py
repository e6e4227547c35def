"""PersistentVolume, PersistentVolumeClaim and StorageClass: validation and defaulting as
Kubernetes, the built-in local-path class, the admission that fills in a claim's default
class and the protection finalizers, the resize rule, and kubectl's table columns."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from api import defaults, validation
from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio

PVS = "/api/v1/persistentvolumes"
PVCS = "/api/v1/namespaces/default/persistentvolumeclaims"
SCS = "/apis/storage.k8s.io/v1/storageclasses"
TABLE = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}


def pv(name: str, size: str = "10Gi", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "capacity": {"storage": size},
        "accessModes": ["ReadWriteOnce"],
        "hostPath": {"path": f"/data/{name}"},
    }
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name},
        "spec": body,
    }


def pvc(name: str, size: str = "1Gi", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    body.update(spec)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": body,
    }


def sc(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name},
        "provisioner": "rancher.io/local-path",
        **fields,
    }


def causes(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, str]:
    defaults.apply_defaults(kind, obj)
    return {c.field: c.message for c in validation.validate(kind, obj, old)}


# ---------------------------------------------------------------- validation, defaults


def test_pv_defaults_and_required_fields() -> None:
    ok = pv("v1")
    assert causes("PersistentVolume", ok) == {}
    assert ok["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert ok["spec"]["volumeMode"] == "Filesystem"
    assert ok["status"] == {"phase": "Pending"}
    bad = pv("v2")
    del bad["spec"]["accessModes"], bad["spec"]["capacity"]
    got = causes("PersistentVolume", bad)
    assert "at least 1 access mode is required" in got["spec.accessModes"]
    assert got["spec.capacity"].startswith("Required value")
    assert (
        "Unsupported value"
        in causes("PersistentVolume", pv("v", accessModes=["RW"]))["spec.accessModes[0]"]
    )
    assert "greater than zero" in causes("PersistentVolume", pv("v", "0"))["spec.capacity[storage]"]
    none = pv("v3")
    del none["spec"]["hostPath"]
    assert "must specify a volume type" in causes("PersistentVolume", none)["spec"]
    local = pv("v4", local={"path": "/mnt/disk"})
    del local["spec"]["hostPath"]
    assert (
        "Local volume requires node affinity"
        in causes("PersistentVolume", local)["spec.nodeAffinity"]
    )
    two = pv("v5", local={"path": "/mnt/disk"})
    assert (
        "may not specify more than 1 volume type"
        in causes("PersistentVolume", two)["spec.hostPath"]
    )
    nfs = pv("v6", nfs={"server": "10.0.0.1", "path": "/export"})
    del nfs["spec"]["hostPath"]
    assert "mounts local and hostPath volumes only" in causes("PersistentVolume", nfs)["spec.nfs"]
    assert (
        "not supported"
        in causes("PersistentVolume", pv("v7", volumeMode="Block"))["spec.volumeMode"]
    )
    ref = pv("v8", claimRef={"name": "data"})
    assert "spec.claimRef.namespace" in causes("PersistentVolume", ref)


def test_pv_source_and_affinity_are_immutable() -> None:
    old = pv("v")
    defaults.apply_defaults("PersistentVolume", old)
    new = copy.deepcopy(old)
    new["spec"]["hostPath"]["path"] = "/elsewhere"
    assert (
        "immutable after creation"
        in causes("PersistentVolume", new, old)["spec.persistentvolumesource"]
    )
    new = copy.deepcopy(old)
    new["spec"]["capacity"]["storage"] = "20Gi"
    new["spec"]["persistentVolumeReclaimPolicy"] = "Delete"
    assert causes("PersistentVolume", new, old) == {}


def test_pvc_defaults_and_required_fields() -> None:
    ok = pvc("data")
    assert causes("PersistentVolumeClaim", ok) == {}
    assert ok["spec"]["volumeMode"] == "Filesystem"
    assert "storageClassName" not in ok["spec"]  # the default class is admission's to add
    assert ok["status"] == {"phase": "Pending"}
    bad = pvc("data")
    del bad["spec"]["resources"], bad["spec"]["accessModes"]
    got = causes("PersistentVolumeClaim", bad)
    assert got["spec.resources[storage]"].startswith("Required value")
    assert "at least 1 access mode" in got["spec.accessModes"]
    assert (
        "greater than zero"
        in causes("PersistentVolumeClaim", pvc("d", "0"))["spec.resources.requests[storage]"]
    )
    assert (
        "quantity"
        in causes("PersistentVolumeClaim", pvc("d", "lots"))["spec.resources.requests[storage]"]
    )
    snap = pvc("d", dataSource={"kind": "VolumeSnapshot", "name": "s"})
    assert "snapshots" in causes("PersistentVolumeClaim", snap)["spec.dataSource"]
    sel = pvc("d", selector={"matchExpressions": [{"key": "a", "operator": "Sideways"}]})
    assert "spec.selector" in causes("PersistentVolumeClaim", sel)
    assert causes("PersistentVolumeClaim", pvc("d", storageClassName="")) == {}
    # YAML numbers become quantity strings, as the server stores them.
    num = pvc("d")
    num["spec"]["resources"]["requests"]["storage"] = 1073741824
    assert causes("PersistentVolumeClaim", num) == {}
    assert num["spec"]["resources"]["requests"]["storage"] == "1073741824"


def test_pvc_spec_is_immutable_except_growth_of_a_bound_claim_and_binding() -> None:
    old = pvc("data", storageClassName="fast")
    defaults.apply_defaults("PersistentVolumeClaim", old)
    new = copy.deepcopy(old)
    new["spec"]["accessModes"] = ["ReadWriteMany"]
    assert "spec is immutable after creation" in causes("PersistentVolumeClaim", new, old)["spec"]
    # Binding sets volumeName once.
    new = copy.deepcopy(old)
    new["spec"]["volumeName"] = "pv-1"
    assert causes("PersistentVolumeClaim", new, old) == {}
    bound = copy.deepcopy(new)
    bound["status"] = {"phase": "Bound"}
    moved = copy.deepcopy(bound)
    moved["spec"]["volumeName"] = "pv-2"
    assert "spec" in causes("PersistentVolumeClaim", moved, bound)
    # A bound claim may grow, never shrink; a pending one may not be resized at all.
    grown = copy.deepcopy(bound)
    grown["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert causes("PersistentVolumeClaim", grown, bound) == {}
    assert "spec" in causes("PersistentVolumeClaim", copy.deepcopy(grown), old)
    shrunk = copy.deepcopy(grown)
    shrunk["spec"]["resources"]["requests"]["storage"] = "1Gi"
    assert (
        "can not be less than previous value"
        in causes("PersistentVolumeClaim", shrunk, grown)["spec.resources.requests.storage"]
    )


def test_storage_class_validation_defaults_and_immutability() -> None:
    ok = sc("fast")
    assert causes("StorageClass", ok) == {}
    assert ok["reclaimPolicy"] == "Delete" and ok["volumeBindingMode"] == "Immediate"
    nop = sc("x")
    del nop["provisioner"]
    assert causes("StorageClass", nop)["provisioner"].startswith("Required value")
    assert (
        "Unsupported value"
        in causes("StorageClass", sc("x", reclaimPolicy="Recycle"))["reclaimPolicy"]
    )
    assert (
        "Unsupported value"
        in causes("StorageClass", sc("x", volumeBindingMode="Later"))["volumeBindingMode"]
    )
    assert (
        "takes no parameters"
        in causes("StorageClass", sc("x", parameters={"a": "b"}))["parameters"]
    )
    old = sc("fast")
    defaults.apply_defaults("StorageClass", old)
    new = sc("fast", provisioner="example.com/nfs", reclaimPolicy="Retain")
    got = causes("StorageClass", new, old)
    assert got["provisioner"] == "Forbidden: updates to provisioner are forbidden."
    assert got["reclaimPolicy"] == "Forbidden: updates to reclaimPolicy are forbidden."
    assert causes("StorageClass", sc("fast", allowVolumeExpansion=True), old) == {}


def test_pod_may_mount_a_claim() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "busybox",
                    "volumeMounts": [{"name": "d", "mountPath": "/d"}],
                }
            ],
            "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}],
        },
    }
    assert causes("Pod", pod) == {}
    pod["spec"]["volumes"][0]["persistentVolumeClaim"] = {"readOnly": True}
    assert "spec.volumes[0].persistentVolumeClaim.claimName" in causes("Pod", pod)


# ---------------------------------------------------------------- in-process apiserver


async def test_local_path_is_the_builtin_default_class(inprocess_api: InProcessApi) -> None:
    code, body = await inprocess_api.status_of("GET", f"{SCS}/local-path")
    assert code == 200, body
    assert body["provisioner"] == "rancher.io/local-path"
    assert body["volumeBindingMode"] == "WaitForFirstConsumer"
    assert body["reclaimPolicy"] == "Delete"
    assert body["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


async def test_claim_gets_default_class_and_protection(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    made = await api.create(PVCS, pvc("data"))
    assert made["spec"]["storageClassName"] == "local-path"
    assert made["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert made["status"]["phase"] == "Pending"
    # "" asks for no class: it stays "".
    made = await api.create(PVCS, pvc("plain", storageClassName=""))
    assert made["spec"]["storageClassName"] == ""
    # The newest default class wins.
    await api.create(
        SCS,
        sc(
            "fast",
            metadata={
                "name": "fast",
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
        ),
    )
    made = await api.create(PVCS, pvc("quick"))
    assert made["spec"]["storageClassName"] == "fast"
    made = await api.create(PVS, pv("v1"))
    assert made["metadata"]["finalizers"] == ["kubernetes.io/pv-protection"]
    assert made["status"]["phase"] == "Pending"
    # A claim being deleted waits for its finalizer (the PV controller removes it).
    code, _ = await api.status_of("DELETE", f"{PVCS}/data")
    assert code == 200
    code, body = await api.status_of("GET", f"{PVCS}/data")
    assert code == 200 and body["metadata"]["deletionTimestamp"]


async def test_claim_resize_needs_a_class_that_allows_it(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(SCS, sc("grow", allowVolumeExpansion=True))
    for name, cls in (("a", "local-path"), ("b", "grow")):
        made = await api.create(PVCS, pvc(name, storageClassName=cls))
        made["spec"]["volumeName"] = f"pv-{name}"
        code, body = await api.status_of("PUT", f"{PVCS}/{name}", json=made)
        assert code == 200, body
        body["status"] = {"phase": "Bound", "capacity": {"storage": "1Gi"}}
        code, body = await api.status_of("PUT", f"{PVCS}/{name}/status", json=body)
        assert code == 200, body
    patch = {"spec": {"resources": {"requests": {"storage": "5Gi"}}}}
    headers = {"Content-Type": "application/merge-patch+json"}
    code, body = await api.status_of("PATCH", f"{PVCS}/a", json=patch, headers=headers)
    assert code == 403, body
    assert "must support resize" in body["message"]
    code, body = await api.status_of("PATCH", f"{PVCS}/b", json=patch, headers=headers)
    assert code == 200, body
    assert body["spec"]["resources"]["requests"]["storage"] == "5Gi"


async def test_storage_table_columns(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    claim = await api.create(PVCS, pvc("data", storageClassName="manual"))
    volume = pv("v1", accessModes=["ReadWriteOnce", "ReadOnlyMany"], storageClassName="manual")
    volume["spec"]["claimRef"] = {"namespace": "default", "name": "data"}
    await api.create(PVS, volume)
    claim["spec"]["volumeName"] = "v1"
    await api.status_of("PUT", f"{PVCS}/data", json=claim)

    table = (await api.client.get(PVS, headers=TABLE)).json()
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Capacity",
        "Access Modes",
        "Reclaim Policy",
        "Status",
        "Claim",
        "StorageClass",
        "VolumeAttributesClass",
        "Reason",
        "Age",
    ]
    cells = table["rows"][0]["cells"]
    assert cells[:8] == [
        "v1",
        "10Gi",
        "RWO,ROX",
        "Retain",
        "Pending",
        "default/data",
        "manual",
        "<unset>",
    ]

    table = (await api.client.get(PVCS, headers=TABLE)).json()
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Status",
        "Volume",
        "Capacity",
        "Access Modes",
        "StorageClass",
        "VolumeAttributesClass",
        "Age",
    ]
    assert table["rows"][0]["cells"][:7] == ["data", "Pending", "v1", "", "", "manual", "<unset>"]

    table = (await api.client.get(SCS, headers=TABLE)).json()
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Provisioner",
        "ReclaimPolicy",
        "VolumeBindingMode",
        "AllowVolumeExpansion",
        "Age",
    ]
    assert table["rows"][0]["cells"][:5] == [
        "local-path (default)",
        "rancher.io/local-path",
        "Delete",
        "WaitForFirstConsumer",
        False,
    ]
