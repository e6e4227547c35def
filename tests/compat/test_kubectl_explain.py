"""``kubectl explain`` and kubectl's validation with the real kubectl v1.35, reading the
schemas kubelab publishes under /openapi/v3 (apiserver/openapi_schemas.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api.registry import RESOURCES, ResourceInfo
from tests.compat.conftest import Kubectl

pytestmark = pytest.mark.timeout(180)


def test_explain_a_nested_field(kubectl: Kubectl) -> None:
    out = kubectl("explain", "pods.spec.containers")
    assert "KIND:       Pod" in out and "VERSION:    v1" in out
    assert "FIELD: containers <[]Container>" in out
    assert "List of containers belonging to the pod." in out
    assert "  image\t<string>" in out
    assert "  ports\t<[]ContainerPort>" in out


def test_explain_recursive(kubectl: Kubectl) -> None:
    out = kubectl("explain", "--recursive", "deployment.spec")
    assert "GROUP:      apps" in out and "KIND:       Deployment" in out
    assert "  template\t<PodTemplateSpec> -required-" in out
    assert "  selector\t<LabelSelector> -required-" in out
    # Nested all the way down through refs: template.spec.containers[].name
    assert "        name\t<string> -required-" in out
    assert "      containers\t<[]Container> -required-" in out


@pytest.mark.parametrize("r", RESOURCES, ids=lambda r: f"{r.group or 'core'}.{r.kind}")
def test_explain_every_served_kind(kubectl: Kubectl, r: ResourceInfo) -> None:
    out = kubectl("explain", r.plural, f"--api-version={r.api_version}")
    assert f"KIND:       {r.kind}" in out
    assert f"VERSION:    {r.version}" in out
    assert "DESCRIPTION:" in out and "FIELDS:" in out


def test_strict_validation_names_the_unknown_field(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    # kubectl validates client-side only against a server that does not take
    # fieldValidation; kubelab does (as kube-apiserver since 1.27), so the message is the
    # server's strict-decoding one, as against Kubernetes.
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "strict"},
        "data": {"a": "b"},
        "dataa": {"c": "d"},
    }
    path = tmp_path / "cm.yaml"
    path.write_text(yaml.safe_dump(manifest))
    res = kubectl.fails("apply", "--validate=strict", "-n", namespace, "-f", str(path))
    assert res.returncode == 1
    assert (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "dataa"' in res.stderr
    )


def test_openapi_v2_in_json_and_a_protobuf_skeleton(kubectl: Kubectl) -> None:
    out = kubectl("get", "--raw", "/openapi/v2")
    assert '"swagger":"2.0"' in out and '"io.k8s.api.core.v1.Pod"' in out
    # The gnostic protobuf form has no definitions: explain's v2 output finds no kind
    # (its default, v3, explains everything: the tests above).
    res = kubectl.fails("explain", "--output", "plaintext-openapiv2", "pods")
    assert "NotAcceptable" not in res.stderr and res.stderr.strip(), res.stderr
