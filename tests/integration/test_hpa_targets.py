"""The HorizontalPodAutoscaler on the other kinds with a ``scale`` subresource (issue 20
item 2): a StatefulSet and a ReplicaSet whose pods report (through the fake runtime's
``kubelab.io/simulated-usage`` template annotation, so new pods report it too) twice the
target utilisation are scaled from 1 to the HPA's max through their scale subresource,
their own controllers make the pods, and the HPA's status counts them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.integration.hpa_cluster import USAGE, hpa_cluster
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with hpa_cluster(tmp_path_factory.mktemp("hpa-targets") / "home") as c:
        yield c


def workload(kind: str, name: str) -> dict[str, Any]:
    labels = {"app": name}
    spec: dict[str, Any] = {
        "replicas": 1,
        "selector": {"matchLabels": labels},
        "template": {
            # 400m of a 200m request: 200 % against 50 %, so 4 wanted, held at max 3.
            "metadata": {"labels": labels, "annotations": {USAGE: "cpu=400m,memory=32Mi"}},
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "busybox",
                        "resources": {"requests": {"cpu": "200m", "memory": "64Mi"}},
                    }
                ]
            },
        },
    }
    if kind == "StatefulSet":
        spec["serviceName"] = name
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name}, "spec": spec}


def hpa(kind: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("kind", "plural"), [("StatefulSet", "statefulsets"), ("ReplicaSet", "replicasets")]
)
def test_hpa_scales_a_workload_through_its_scale_subresource(
    cluster: Cluster, kind: str, plural: str
) -> None:
    c = cluster.client
    name = f"busy-{kind.lower()}"
    c.create(plural, workload(kind, name), "default")
    c.create("horizontalpodautoscalers", hpa(kind, name), "default")

    def live_pods() -> int:
        items = c.list("pods", "default", label_selector=f"app={name}")["items"]
        return sum(1 for p in items if not p["metadata"].get("deletionTimestamp"))

    wait_for(
        lambda: c.get(plural, name, "default")["spec"]["replicas"] == 3,
        f"the HPA scaling the {kind} to its max",
        timeout=90,
        diagnostics=cluster.logs,
    )
    wait_for(lambda: live_pods() == 3, f"the {kind}'s controller making 3 pods", timeout=60)
    wait_for(
        lambda: (
            (c.get("horizontalpodautoscalers", name, "default").get("status") or {}).get(
                "currentReplicas"
            )
            == 3
        ),
        "the HPA counting 3 replicas",
        timeout=30,
    )
    events = c.list(
        "events",
        "default",
        field_selector=f"involvedObject.name={name},involvedObject.kind=HorizontalPodAutoscaler",
    )["items"]
    assert any(
        e["reason"] == "SuccessfulRescale" and e["message"].startswith("New size: 3;")
        for e in events
    ), [(e["reason"], e["message"]) for e in events]
