"""ServiceAccount tokens through the real kubectl: ``kubectl create token`` (a TokenRequest
sent as protobuf), the token used with ``kubectl auth whoami``, a too-short ``--duration``
refused in Kubernetes' words, and ``--bound-object-kind Pod`` binding it to a pod."""

from __future__ import annotations

import pytest

from tests.compat.conftest import Cluster, Kubectl

pytestmark = pytest.mark.timeout(120)


def test_kubectl_create_token(kubectl: Kubectl, cluster: Cluster, namespace: str) -> None:
    kubectl("create", "serviceaccount", "bot", "-n", namespace)
    token = kubectl("create", "token", "bot", "-n", namespace, "--duration", "20m").strip()
    assert token.startswith("eyJ")
    who = kubectl("auth", "whoami", "--token", token)
    assert f"system:serviceaccount:{namespace}:bot" in who
    assert f"system:serviceaccounts:{namespace}" in who
    short = kubectl.fails("create", "token", "bot", "-n", namespace, "--duration", "5m")
    assert "may not specify a duration less than 10 minutes" in short.stderr
    cl = cluster.api.client()
    body = {
        "metadata": {"name": "holder"},
        "spec": {"serviceAccountName": "bot", "containers": [{"name": "c", "image": "busybox"}]},
    }
    cl.create("pods", body, namespace)
    bound = kubectl(
        "create", "token", "bot", "-n", namespace,
        "--bound-object-kind", "Pod", "--bound-object-name", "holder",
    ).strip()  # fmt: skip
    assert f"system:serviceaccount:{namespace}:bot" in kubectl("auth", "whoami", "--token", bound)
