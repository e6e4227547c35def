"""Client-side apply's upgrade path and Update managers, with the real kubectl 1.35:
``kubectl apply --server-side`` over an object ``kubectl apply`` made moves the
``kubectl-client-side-apply`` entry's fields to kubectl's Apply entry (kubectl's own
CSA->SSA migration, a JSON patch of managedFields the apiserver keeps), so a field dropped
from the file goes with no conflict; a field ``kubectl edit`` or ``kubectl scale`` changed
is then that manager's, and a server-side apply of it conflicts naming it."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.fieldmanager import LAST_APPLIED
from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl import configmap, deployment, write

pytestmark = pytest.mark.timeout(180)


def managers(cluster: Cluster, resource: str, name: str, ns: str) -> set[tuple[str, str, str]]:
    obj = cluster.api.client().get(resource, name, ns)
    return {
        (e["manager"], e["operation"], e.get("subresource", ""))
        for e in obj["metadata"].get("managedFields") or []
    }


def server_side(kubectl: Kubectl, f: Path, ns: str) -> subprocess.CompletedProcess[str]:
    return kubectl.run("apply", "--server-side", "-f", str(f), "-n", ns)


def test_server_side_apply_over_client_side_apply_drops_a_removed_field(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    f = tmp_path / "cm.yaml"
    kubectl("apply", "-f", str(write(f, configmap("upgraded", a="1", b="2"))), "-n", namespace)
    assert managers(cluster, "configmaps", "upgraded", namespace) == {
        ("kubectl-client-side-apply", "Update", "")
    }
    p = server_side(kubectl, write(f, configmap("upgraded", a="1")), namespace)
    assert p.returncode == 0, p.stderr
    assert "conflict" not in p.stderr.lower()
    live = cluster.api.client().get("configmaps", "upgraded", namespace)
    assert live["data"] == {"a": "1"}  # b was client-side apply's, now kubectl's: dropped
    # client-side apply's entry is gone into kubectl's; kubectl keeps the annotation in
    # step for a later client-side apply with its own apply (kubectl-last-applied)
    assert managers(cluster, "configmaps", "upgraded", namespace) == {
        ("kubectl", "Apply", ""),
        ("kubectl-last-applied", "Apply", ""),
    }
    last = yaml.safe_load(live["metadata"]["annotations"][LAST_APPLIED])
    assert last["data"] == {"a": "1"}


def test_a_field_kubectl_edit_changed_conflicts_naming_kubectl_edit(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    f = write(tmp_path / "cm.yaml", configmap("edited", a="1"))
    assert server_side(kubectl, f, namespace).returncode == 0
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i \'s/^  a: "1"$/  a: "2"/\' "$1"\n')
    editor.chmod(0o755)
    edit = subprocess.run(
        [str(kubectl.binary), "edit", "configmap/edited", "-n", namespace],
        capture_output=True,
        text=True,
        timeout=60,
        env={**kubectl.env(), "KUBE_EDITOR": str(editor)},
    )
    assert edit.returncode == 0, edit.stderr
    assert cluster.api.client().get("configmaps", "edited", namespace)["data"] == {"a": "2"}
    assert ("kubectl-edit", "Update", "") in managers(cluster, "configmaps", "edited", namespace)
    clash = server_side(kubectl, f, namespace)
    assert clash.returncode != 0
    assert 'conflict with "kubectl-edit" using v1: .data.a' in clash.stderr, clash.stderr
    forced = kubectl.run(
        "apply", "--server-side", "--force-conflicts", "-f", str(f), "-n", namespace
    )
    assert forced.returncode == 0, forced.stderr
    assert cluster.api.client().get("configmaps", "edited", namespace)["data"] == {"a": "1"}


def test_replicas_kubectl_scale_set_conflict_naming_the_scale_subresource(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    f = write(tmp_path / "deploy.yaml", deployment("scaled", replicas=1))
    assert server_side(kubectl, f, namespace).returncode == 0
    kubectl("scale", "deployment/scaled", "--replicas=3", "-n", namespace)
    shown: Any = yaml.safe_load(
        kubectl("get", "deploy", "scaled", "-n", namespace, "-o", "yaml", "--show-managed-fields")
    )
    (scale,) = [e for e in shown["metadata"]["managedFields"] if e.get("subresource") == "scale"]
    # kubectl 1.35's scale sends no fieldManager: its User-Agent (kubectl/v1.35...) names it
    assert scale["manager"] == "kubectl" and scale["operation"] == "Update"
    assert scale["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    clash = server_side(kubectl, f, namespace)
    assert clash.returncode != 0
    expected = 'conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas'
    assert expected in clash.stderr, clash.stderr
    assert cluster.api.client().get("deployments", "scaled", namespace)["spec"]["replicas"] == 3
