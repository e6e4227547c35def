"""PriorityClass through the real kubectl: discovery (short name pc), apply, get (the
upstream columns), get -o yaml, describe, delete, and a pod resolved from its class."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl import gone, rows

pytestmark = pytest.mark.timeout(180)


def test_priority_class_round_trip(
    kubectl: Kubectl, cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    table = rows(kubectl("api-resources", "--api-group=scheduling.k8s.io"))
    assert table["priorityclasses"]["SHORTNAMES"] == "pc"
    assert table["priorityclasses"]["NAMESPACED"] == "false"
    manifest = tmp_path / "pc.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "scheduling.k8s.io/v1",
                "kind": "PriorityClass",
                "metadata": {"name": "compat-high"},
                "value": 5000,
                "description": "for the compat test",
            }
        )
    )
    kubectl("apply", "-f", str(manifest))
    got = rows(kubectl("get", "pc"))
    assert got["compat-high"]["VALUE"] == "5000"
    assert got["compat-high"]["GLOBAL-DEFAULT"] == "false"
    assert got["compat-high"]["PREEMPTIONPOLICY"] == "PreemptLowerPriority"
    assert got["system-node-critical"]["VALUE"] == "2000001000"
    stored = yaml.safe_load(kubectl("get", "priorityclass", "compat-high", "-o", "yaml"))
    assert stored["value"] == 5000 and stored["description"] == "for the compat test"
    described = kubectl("describe", "pc", "compat-high")
    assert "5000" in described and "for the compat test" in described
    # A re-apply with a changed description is a patch the server accepts.
    manifest.write_text(manifest.read_text().replace("for the compat test", "changed"))
    kubectl("apply", "-f", str(manifest))
    cl = cluster.api.client()
    assert cl.get("priorityclasses", "compat-high")["description"] == "changed"

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "prio"},
        "spec": {
            "priorityClassName": "compat-high",
            "containers": [{"name": "main", "image": "busybox"}],
        },
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(pod))
    assert cl.get("pods", "prio", namespace)["spec"]["priority"] == 5000
    pod["metadata"]["name"] = "prio-missing"
    pod["spec"]["priorityClassName"] = "no-such-class"
    p = kubectl.fails("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(pod))
    assert "no PriorityClass with name no-such-class was found" in p.stderr

    kubectl("delete", "pc", "compat-high")
    assert gone(cl, "priorityclasses", "compat-high", None)


def test_create_priorityclass_generator(kubectl: Kubectl, cluster: Cluster) -> None:
    # kubectl's generator sends a protobuf body (apiserver/protobuf.py decodes it).
    kubectl(
        "create",
        "priorityclass",
        "gen-pc",
        "--value=-42",
        "--description=made by kubectl create",
        "--preemption-policy=Never",
    )
    cl = cluster.api.client()
    made = cl.get("priorityclasses", "gen-pc")
    assert (made["value"], made["description"], made["preemptionPolicy"]) == (
        -42,
        "made by kubectl create",
        "Never",
    )
    assert made.get("globalDefault") in (None, False)
    kubectl("delete", "priorityclass", "gen-pc")
