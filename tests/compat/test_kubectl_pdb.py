"""PodDisruptionBudget through the real kubectl: discovery (short name pdb), apply, get
(the upstream columns, filled by the disruption controller), get -o yaml, describe,
a re-apply that loosens it, delete."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl import deployment, gone, rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


def test_pdb_round_trip(kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    table = rows(kubectl("api-resources", "--api-group=policy"))
    assert table["poddisruptionbudgets"]["SHORTNAMES"] == "pdb"
    assert table["poddisruptionbudgets"]["APIVERSION"] == "policy/v1"
    cl = cluster.api.client()
    cl.create("deployments", deployment("guarded", replicas=2), namespace)
    manifest = tmp_path / "pdb.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "guarded"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "guarded"}}},
            }
        )
    )
    kubectl("apply", "-n", namespace, "-f", str(manifest))

    def status() -> dict:
        return cl.get("poddisruptionbudgets", "guarded", namespace).get("status") or {}

    wait_for(lambda: status().get("currentHealthy") == 2, "the budget sees 2 healthy pods", 60)
    got = rows(kubectl("get", "pdb", "-n", namespace))["guarded"]
    assert (got["MIN AVAILABLE"], got["MAX UNAVAILABLE"], got["ALLOWED DISRUPTIONS"]) == (
        "2",
        "N/A",
        "0",
    )
    stored = yaml.safe_load(kubectl("get", "pdb", "guarded", "-n", namespace, "-o", "yaml"))
    assert stored["spec"]["minAvailable"] == 2
    assert stored["status"]["expectedPods"] == 2
    assert {"type": "DisruptionAllowed", "status": "False"}.items() <= (
        stored["status"]["conditions"][0].items()
    )
    described = kubectl("describe", "pdb", "guarded", "-n", namespace)
    assert "Min available:" in described and "Allowed disruptions:  0" in described

    # Loosen it with a re-apply: one disruption is allowed once the controller has looked.
    manifest.write_text(manifest.read_text().replace("minAvailable: 2", "minAvailable: 1"))
    kubectl("apply", "-n", namespace, "-f", str(manifest))
    wait_for(lambda: status().get("disruptionsAllowed") == 1, "one disruption allowed", 60)
    assert rows(kubectl("get", "pdb", "-n", namespace))["guarded"]["MIN AVAILABLE"] == "1"

    kubectl("delete", "pdb", "guarded", "-n", namespace)
    assert gone(cl, "poddisruptionbudgets", "guarded", namespace)


def test_create_pdb_generator(kubectl: Kubectl, cluster: Cluster, namespace: str) -> None:
    # kubectl's generator sends a protobuf body (apiserver/protobuf.py decodes it).
    kubectl("create", "pdb", "gen", "-n", namespace, "--selector=app=gen", "--max-unavailable=0")
    made = cluster.api.client().get("poddisruptionbudgets", "gen", namespace)
    assert made["spec"] == {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "gen"}}}
    kubectl("create", "pdb", "half", "-n", namespace, "--selector=app=gen", "--min-available=50%")
    made = cluster.api.client().get("poddisruptionbudgets", "half", namespace)
    assert made["spec"]["minAvailable"] == "50%"
