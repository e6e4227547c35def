"""The pure storage decisions: which volume serves which claim (api.volume_match), what the
PV controller does for a claim or a volume (controllers.pv_decisions), where the scheduler
lets a pod with claims run (scheduler.plugins.volume_binding), and which directories the
kubelet may create or remove (kubelet.local_volumes.local_dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api.volume_match import best_volume, mismatch, pinned_node
from controllers.pv_decisions import claim_actions, pods_using, volume_actions
from kubelet.local_volumes import local_dir
from scheduler.plugins.volume_binding import (
    UNBOUND_IMMEDIATE,
    VolumeBinding,
    volume_constraints,
    with_constraints,
)
from scheduler.podinfo import pod_info
from scheduler.snapshot import NodeInfo

Obj = dict[str, Any]

LOCAL_PATH = {
    "metadata": {"name": "local-path"},
    "provisioner": "rancher.io/local-path",
    "volumeBindingMode": "WaitForFirstConsumer",
    "reclaimPolicy": "Delete",
}
MANUAL = {
    "metadata": {"name": "manual"},
    "provisioner": "kubernetes.io/no-provisioner",
    "volumeBindingMode": "Immediate",
}
CLASSES = {"local-path": LOCAL_PATH, "manual": MANUAL}


def pvc(name: str = "data", size: str = "1Gi", **spec: Any) -> Obj:
    body: Obj = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
        "storageClassName": "manual",
        "volumeMode": "Filesystem",
    }
    body.update(spec)
    meta: Obj = {"name": name, "namespace": "ml", "uid": f"uid-{name}", "resourceVersion": "7"}
    meta.update(body.pop("metadata", {}))
    return {"metadata": meta, "spec": body, "status": {"phase": "Pending"}}


def pv(name: str, size: str = "10Gi", labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    body: Obj = {
        "capacity": {"storage": size},
        "accessModes": ["ReadWriteOnce"],
        "storageClassName": "manual",
        "hostPath": {"path": f"/data/{name}"},
    }
    body.update(spec)
    return {
        "metadata": {"name": name, "labels": labels or {}, "resourceVersion": "3"},
        "spec": body,
        "status": {"phase": "Available"},
    }


def on_node(node: str) -> Obj:
    term = {
        "matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]
    }
    return {"required": {"nodeSelectorTerms": [term]}}


def node(name: str, storage_dir: str | None = "/var/lib/kubelab/storage") -> Obj:
    ann = {"kubelab.io/storage-dir": storage_dir} if storage_dir else {}
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}, "annotations": ann},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    }


def claim_ref(c: Obj) -> Obj:
    return {"namespace": "ml", "name": c["metadata"]["name"], "uid": c["metadata"]["uid"]}


# ---------------------------------------------------------------- matching


def test_smallest_fitting_volume_of_the_claims_class_and_modes() -> None:
    claim = pvc(size="3Gi")
    vols = [
        pv("big", "100Gi"),
        pv("fit", "5Gi"),
        pv("tiny", "2Gi"),
        pv("other", "4Gi", storageClassName="fast"),
    ]
    assert best_volume(claim, vols)["metadata"]["name"] == "fit"
    assert mismatch(pv("tiny", "2Gi"), claim) == "is too small"
    assert "class" in (mismatch(pv("o", storageClassName="fast"), claim) or "")
    rwx = pvc(accessModes=["ReadWriteMany"])
    assert mismatch(pv("v"), rwx) == "does not offer ReadWriteMany"
    assert best_volume(rwx, vols) is None


def test_selector_claim_ref_and_node_decide_too() -> None:
    claim = pvc(selector={"matchLabels": {"tier": "nvme"}})
    vols = [pv("plain", "2Gi"), pv("fast", "50Gi", labels={"tier": "nvme"})]
    assert best_volume(claim, vols)["metadata"]["name"] == "fast"
    # A volume reserved for this claim wins over a smaller free one.
    plain = pvc()
    reserved = pv("reserved", "50Gi", claimRef=claim_ref(plain))
    assert best_volume(plain, [pv("small", "2Gi"), reserved])["metadata"]["name"] == "reserved"
    taken = pv("taken", claimRef={"namespace": "ml", "name": "someone-else"})
    assert "bound to ml/someone-else" in (mismatch(taken, plain) or "")
    assert mismatch({**pv("rel"), "status": {"phase": "Released"}}, plain) == "is Released"
    # With a node (WaitForFirstConsumer), only the volumes usable there.
    local = [pv("a", nodeAffinity=on_node("gpu-1")), pv("b", "20Gi", nodeAffinity=on_node("gpu-2"))]
    assert best_volume(plain, local, node("gpu-2"))["metadata"]["name"] == "b"
    assert pinned_node(local[0]) == "gpu-1"


# ---------------------------------------------------------------- the PV controller


def test_wait_for_first_consumer_waits_then_provisions_on_the_selected_node() -> None:
    claim = pvc(storageClassName="local-path")
    acts = claim_actions(claim, {}, CLASSES, {}, in_use=False)
    assert [a.reason for a in acts if a.verb == "event"] == ["WaitForFirstConsumer"]
    assert not [a for a in acts if a.verb == "create"]

    claim["metadata"]["annotations"] = {"volume.kubernetes.io/selected-node": "gpu-2"}
    acts = claim_actions(claim, {}, CLASSES, {"gpu-2": node("gpu-2")}, in_use=False)
    (made,) = [a.body for a in acts if a.verb == "create"]
    assert made is not None
    spec = made["spec"]
    assert made["metadata"]["name"] == "pvc-uid-data"
    assert made["metadata"]["finalizers"] == ["kubelab.io/local-volume-data"]
    assert spec["local"]["path"] == "/var/lib/kubelab/storage/pvc-uid-data_ml_data"
    assert spec["nodeAffinity"] == on_node("gpu-2")
    assert spec["persistentVolumeReclaimPolicy"] == "Delete"
    assert spec["capacity"] == {"storage": "1Gi"}
    assert spec["claimRef"]["uid"] == "uid-data"
    # A node whose kubelet announces no storage dir gets no volume, and says why.
    acts = claim_actions(claim, {}, CLASSES, {"gpu-2": node("gpu-2", None)}, in_use=False)
    assert not [a for a in acts if a.verb == "create"]
    (failed,) = [a for a in acts if a.verb == "event"]
    assert failed.reason == "ProvisioningFailed" and "kubelab.io/storage-dir" in failed.message


def test_immediate_claim_binds_both_sides_then_reports_bound() -> None:
    claim = pvc(size="3Gi")
    vols = {"fit": pv("fit", "5Gi"), "big": pv("big", "50Gi")}
    acts = claim_actions(claim, vols, CLASSES, {}, in_use=False)
    patches = [
        (a.resource, a.name, a.body) for a in acts if a.verb == "patch" and not a.subresource
    ]
    assert ("persistentvolumes", "fit") == patches[0][:2]
    assert patches[0][2]["spec"]["claimRef"]["uid"] == "uid-data"
    assert patches[1][:2] == ("persistentvolumeclaims", "data")
    assert patches[1][2]["spec"] == {"volumeName": "fit"}
    # Both sides point at each other: the claim's status follows the volume.
    claim["spec"]["volumeName"] = "fit"
    vols["fit"]["spec"]["claimRef"] = claim_ref(claim)
    acts = claim_actions(claim, vols, CLASSES, {}, in_use=False)
    (status,) = [a for a in acts if a.subresource == "status"]
    assert status.body == {
        "status": {
            "phase": "Bound",
            "capacity": {"storage": "5Gi"},
            "accessModes": ["ReadWriteOnce"],
        }
    }
    assert volume_actions(vols["fit"], claim)[0].body == {"status": {"phase": "Bound"}}
    # A bound claim whose volume disappeared is Lost.
    claim["status"]["phase"] = "Bound"
    acts = claim_actions(claim, {}, CLASSES, {}, in_use=False)
    assert [a.body for a in acts if a.subresource == "status"] == [{"status": {"phase": "Lost"}}]


def test_no_volume_and_no_provisioner_says_so() -> None:
    acts = claim_actions(pvc(size="1Ti"), {"v": pv("v")}, CLASSES, {}, in_use=False)
    (ev,) = [a for a in acts if a.verb == "event"]
    assert ev.reason == "ProvisioningFailed" and "no provisioner" in ev.message
    acts = claim_actions(pvc(storageClassName=""), {}, CLASSES, {}, in_use=False)
    assert "no storage class is set" in [a for a in acts if a.verb == "event"][0].message


def test_pvc_protection_holds_while_a_pod_uses_the_claim() -> None:
    claim = pvc(
        metadata={
            "deletionTimestamp": "2026-01-01T00:00:00Z",
            "finalizers": ["kubernetes.io/pvc-protection", "x/y"],
        }
    )
    assert claim_actions(claim, {}, CLASSES, {}, in_use=True) == []
    (release,) = claim_actions(claim, {}, CLASSES, {}, in_use=False)
    assert release.body == {"metadata": {"finalizers": ["x/y"], "resourceVersion": "7"}}
    mounting = {
        "spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]}
    }
    done = {**mounting, "status": {"phase": "Succeeded"}}
    assert pods_using([mounting, done, {"spec": {}}], "data") == [mounting]


def test_reclaim_delete_retain_and_a_manual_volume() -> None:
    gone_claim = {"namespace": "ml", "name": "data", "uid": "uid-old"}
    provisioned = pv("p", claimRef=gone_claim, persistentVolumeReclaimPolicy="Delete")
    provisioned["metadata"]["annotations"] = {
        "pv.kubernetes.io/provisioned-by": "rancher.io/local-path"
    }
    verbs = [(a.verb, a.body) for a in volume_actions(provisioned, None)]
    assert verbs == [("patch", {"status": {"phase": "Released"}}), ("delete", None)]
    retained = pv("r", claimRef=gone_claim, persistentVolumeReclaimPolicy="Retain")
    assert [a.body for a in volume_actions(retained, None)] == [{"status": {"phase": "Released"}}]
    manual = pv("m", claimRef=gone_claim, persistentVolumeReclaimPolicy="Delete")
    acts = volume_actions(manual, None)
    assert acts[0].body is not None and acts[0].body["status"]["phase"] == "Failed"
    assert acts[1].reason == "VolumeFailedDelete"
    # A claim of the same name made anew (another uid) does not take the old volume back.
    newer = pvc(metadata={"uid": "uid-new"})
    assert [a.body for a in volume_actions(retained, newer)] == [{"status": {"phase": "Released"}}]
    # pv-protection: kept while bound, released once not.
    deleting = pv("d", claimRef=claim_ref(newer))
    deleting["metadata"].update(
        deletionTimestamp="2026-01-01T00:00:00Z", finalizers=["kubernetes.io/pv-protection"]
    )
    newer["spec"]["volumeName"] = "d"
    assert volume_actions(deleting, newer) == []
    assert volume_actions(deleting, None)[0].body == {
        "metadata": {"finalizers": [], "resourceVersion": "3"}
    }
    new = {**pv("free"), "status": {"phase": "Pending"}}
    assert [a.body for a in volume_actions(new, None)] == [{"status": {"phase": "Available"}}]
    assert volume_actions(pv("free"), None) == []  # already Available: nothing to write


# ---------------------------------------------------------------- the scheduler


def _pod(*claims: str) -> Obj:
    return {
        "metadata": {"name": "p", "namespace": "ml", "uid": "u"},
        "spec": {
            "containers": [{"name": "c"}],
            "volumes": [{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims],
        },
    }


def test_scheduler_constraints_from_claims() -> None:
    cache = {
        "ml/bound": {**pvc("bound", storageClassName="local-path"), "spec": {"volumeName": "pv-1"}},
        "ml/waiting": pvc("waiting", storageClassName="local-path"),
        "ml/immediate": pvc("immediate"),
    }
    volumes = {"pv-1": pv("pv-1", nodeAffinity=on_node("gpu-2"))}
    got = volume_constraints("ml", ["immediate"], cache.get, volumes, CLASSES)
    assert got == UNBOUND_IMMEDIATE
    assert volume_constraints("ml", ["nope"], cache.get, volumes, CLASSES) == (
        'persistentvolumeclaim "nope" not found'
    )
    got = volume_constraints("ml", ["bound", "waiting"], cache.get, volumes, CLASSES)
    assert not isinstance(got, str)
    bound, waiting = got
    assert bound.pinned == "gpu-2" and not bound.wait_for_consumer
    assert waiting.wait_for_consumer and waiting.local_path

    pi = with_constraints(pod_info(_pod("bound", "waiting")), got)
    assert pi.signature != pod_info(_pod("bound", "waiting")).signature
    plugin = VolumeBinding()
    assert plugin.filter(pi, NodeInfo(node("gpu-2"))) is None
    rej = plugin.filter(pi, NodeInfo(node("gpu-1")))
    assert rej is not None
    assert rej.reasons == (
        "node(s) had volume node affinity conflict (volume bound lives on node gpu-2)",
    )
    assert rej.detail == "volume bound lives on node gpu-2"
    # Only the unbound local-path claim: any node that can make local volumes.
    only_waiting = with_constraints(pod_info(_pod("waiting")), [waiting])
    assert plugin.filter(only_waiting, NodeInfo(node("gpu-1"))) is None
    assert plugin.filter(only_waiting, NodeInfo(node("sim-1", None))) is not None


# ---------------------------------------------------------------- the kubelet's disk


def test_kubelet_touches_only_local_path_volumes_inside_its_storage_dir(tmp_path: Path) -> None:
    def local(path: str, provisioned: bool = True) -> Obj:
        ann = {"pv.kubernetes.io/provisioned-by": "rancher.io/local-path"} if provisioned else {}
        return {"metadata": {"annotations": ann}, "spec": {"local": {"path": path}}}

    root = tmp_path / "storage"
    assert local_dir(local(f"{root}/pvc-1_ml_data"), root) == root / "pvc-1_ml_data"
    assert local_dir(local(f"{root}/pvc-1", provisioned=False), root) is None
    assert local_dir(local("/etc"), root) is None
    assert local_dir(local(f"{root}/../etc"), root) is None
    assert local_dir(local(str(root)), root) is None


def test_read_write_once_pod_claim_admits_one_pod() -> None:
    only = pvc("solo", accessModes=["ReadWriteOncePod"])
    only["spec"]["volumeName"] = "pv-1"
    cache = {"ml/solo": only}
    volumes = {"pv-1": pv("pv-1", accessModes=["ReadWriteOncePod"])}
    got = volume_constraints("ml", ["solo"], cache.get, volumes, CLASSES, lambda c: ["first"])
    assert got == (
        "a ReadWriteOncePod PersistentVolumeClaim of the pod is already in use "
        "(claim solo, by pod first)"
    )
    assert volume_constraints("ml", ["solo"], cache.get, volumes, CLASSES, lambda c: []) == []


def test_a_claim_without_class_gets_the_default_once_there_is_one() -> None:
    classless = pvc()
    del classless["spec"]["storageClassName"]
    acts = claim_actions(classless, {}, CLASSES, {}, in_use=False)  # no class is default
    assert not [a for a in acts if "storageClassName" in ((a.body or {}).get("spec") or {})]
    marked = {
        **LOCAL_PATH,
        "metadata": {
            "name": "local-path",
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
    }
    (act,) = claim_actions(classless, {}, {**CLASSES, "local-path": marked}, {}, in_use=False)
    assert (act.verb, act.body) == ("patch", {"spec": {"storageClassName": "local-path"}})
