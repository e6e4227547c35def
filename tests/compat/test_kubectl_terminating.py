"""A pod being deleted gracefully, as the real kubectl shows it on Kubernetes: STATUS
Terminating (from the deletionTimestamp) while its preStop hook runs, its container still
ready (READY 1/1, as a terminating pod keeps serving until it stops); then it goes."""

from __future__ import annotations

import pytest
import yaml

from tests.compat.conftest import NODE_NAME, Cluster, Kubectl
from tests.compat.test_kubectl import gone, rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(120)

POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "slow-stop"},
    "spec": {
        "nodeName": NODE_NAME,
        "terminationGracePeriodSeconds": 30,
        "containers": [
            {
                "name": "main",
                "image": "busybox",
                "lifecycle": {"preStop": {"sleep": {"seconds": 8}}},
            }
        ],
    },
}


def test_kubectl_shows_a_stopping_pod_terminating_and_still_ready(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(POD))

    def row() -> dict[str, str]:
        return rows(kubectl("get", "pod", "slow-stop", "-n", namespace)).get("slow-stop") or {}

    wait_for(lambda: row().get("READY") == "1/1" and row(), "the pod runs and is ready")
    kubectl("delete", "pod", "slow-stop", "-n", namespace, "--wait=false")
    stopping = wait_for(
        lambda: (r := row()).get("STATUS") == "Terminating" and r, "Terminating while it stops", 6
    )
    assert stopping["READY"] == "1/1"
    described = kubectl("describe", "pod", "slow-stop", "-n", namespace)
    assert "Terminating (lasts" in described
    ready_line = next(ln for ln in described.splitlines() if ln.strip().startswith("Ready:"))
    assert ready_line.split()[-1] == "True", ready_line
    cl = cluster.api.client()
    assert wait_for(lambda: gone(cl, "pods", "slow-stop", namespace), "the pod goes", 40)
