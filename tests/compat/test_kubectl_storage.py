"""PersistentVolume, PersistentVolumeClaim and StorageClass through the real kubectl:
discovery (pv, pvc, sc), apply, get with kubectl's columns (the default class marked
"(default)"), describe, and delete; a claim bound to a manual volume shows as Bound on
both sides; a bad claim is refused with the field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl import gone, header, rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


def test_storage_kinds_round_trip(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    resources = rows(kubectl("api-resources", "--api-group=storage.k8s.io"))
    assert resources["storageclasses"]["SHORTNAMES"] == "sc"
    core = rows(kubectl("api-resources", "--api-group="))
    assert core["persistentvolumes"]["SHORTNAMES"] == "pv"
    assert core["persistentvolumeclaims"]["SHORTNAMES"] == "pvc"
    assert core["persistentvolumeclaims"]["NAMESPACED"] == "true"

    classes = kubectl("get", "sc")
    assert header(classes) == [
        "NAME",
        "PROVISIONER",
        "RECLAIMPOLICY",
        "VOLUMEBINDINGMODE",
        "ALLOWVOLUMEEXPANSION",
        "AGE",
    ]
    default = rows(classes)["local-path (default)"]
    assert default["PROVISIONER"] == "rancher.io/local-path"
    assert default["VOLUMEBINDINGMODE"] == "WaitForFirstConsumer"

    name = f"compat-{namespace}"
    manifest = tmp_path / "storage.yaml"
    manifest.write_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "storage.k8s.io/v1",
                    "kind": "StorageClass",
                    "metadata": {"name": name},
                    "provisioner": "kubernetes.io/no-provisioner",
                    "volumeBindingMode": "Immediate",
                },
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": name},
                    "spec": {
                        "capacity": {"storage": "2Gi"},
                        "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                        "storageClassName": name,
                        "hostPath": {"path": "/tmp"},
                    },
                },
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": "data", "namespace": namespace},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                        "storageClassName": name,
                    },
                },
            ]
        )
    )
    kubectl("apply", "-f", str(manifest))

    def bound() -> dict[str, str] | None:
        got = rows(kubectl("get", "pvc", "-n", namespace))
        return got["data"] if got.get("data", {}).get("STATUS") == "Bound" else None

    claim = wait_for(bound, "the claim Bound", 30)
    assert claim["VOLUME"] == name and claim["CAPACITY"] == "2Gi"
    assert claim["ACCESS MODES"] == "RWO,ROX" and claim["STORAGECLASS"] == name
    assert claim["VOLUMEATTRIBUTESCLASS"] == "<unset>"
    volumes = kubectl("get", "pv", name)
    assert header(volumes) == [
        "NAME",
        "CAPACITY",
        "ACCESS MODES",
        "RECLAIM POLICY",
        "STATUS",
        "CLAIM",
        "STORAGECLASS",
        "VOLUMEATTRIBUTESCLASS",
        "REASON",
        "AGE",
    ]
    volume = rows(volumes)[name]
    assert volume["STATUS"] == "Bound" and volume["CLAIM"] == f"{namespace}/data"
    assert volume["RECLAIM POLICY"] == "Retain"

    described = kubectl("describe", "pvc", "data", "-n", namespace)
    assert "Bound" in described and name in described
    assert "kubernetes.io/pvc-protection" in described
    assert "Retain" in kubectl("describe", "pv", name)
    assert "kubernetes.io/no-provisioner" in kubectl("describe", "sc", name)

    bad = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "bad", "namespace": namespace},
        "spec": {"accessModes": ["ReadWriteOnce"]},
    }
    p = kubectl.fails("apply", "-f", "-", input=yaml.safe_dump(bad))
    assert "spec.resources[storage]: Required value" in p.stderr

    kubectl("delete", "pvc", "data", "-n", namespace)
    cl = cluster.api.client()
    wait_for(lambda: gone(cl, "persistentvolumeclaims", "data", namespace), "claim gone", 30)
    wait_for(
        lambda: rows(kubectl("get", "pv", name))[name]["STATUS"] == "Released",
        "the volume Released",
        30,
    )
    kubectl("delete", "pv", name)
    kubectl("delete", "sc", name)
    wait_for(lambda: gone(cl, "persistentvolumes", name, None), "volume gone", 30)
    assert gone(cl, "storageclasses", name, None)


def test_apply_prune_removes_a_claim_left_out(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    # kubectl's default prune list names PersistentVolumeClaims; with them served, a claim
    # left out of the manifests is pruned like anything else.
    def claim(name: str) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "labels": {"app": "prune-me"}},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        }

    allow = ["--prune-allowlist", "core/v1/PersistentVolumeClaim"]
    manifest = tmp_path / "claims.yaml"
    manifest.write_text(yaml.safe_dump_all([claim("old"), claim("new")]))
    prune = ["apply", "-n", namespace, "--prune", "-l", "app=prune-me", *allow, "-f"]
    kubectl(*prune, str(manifest))
    manifest.write_text(yaml.safe_dump(claim("new")))
    out = kubectl(*prune, str(manifest))
    assert "persistentvolumeclaim/old pruned" in out, out
    cl = cluster.api.client()
    # No pod uses it: pvc-protection lets it go at once.
    wait_for(lambda: gone(cl, "persistentvolumeclaims", "old", namespace), "old pruned", 30)
    assert not gone(cl, "persistentvolumeclaims", "new", namespace)
