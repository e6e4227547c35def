"""ReplicationControllers against a real apiserver, scheduler, controller manager and
fake-runtime kubelets: replicas kept, a deleted pod replaced, scaled through the scale
subresource (``kl scale rc/x``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import Cluster, start_cluster
from tests.integration.ctrl_cluster import is_ready
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_cluster(tmp_path_factory.mktemp("rc") / "home", nodes=2)
    try:
        c.wait_nodes_ready(timeout=60)
        yield c
    finally:
        c.stop()


def live(c: Any, ns: str) -> list[dict[str, Any]]:
    pods = c.list("pods", ns, label_selector="app=legacy")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def test_rc_keeps_its_replicas_and_scales(cluster: Cluster) -> None:
    c = cluster.client
    ns = "default"
    c.create(
        "replicationcontrollers",
        {
            "apiVersion": "v1",
            "kind": "ReplicationController",
            "metadata": {"name": "legacy"},
            "spec": {
                "replicas": 3,
                "template": {
                    "metadata": {"labels": {"app": "legacy"}},
                    "spec": {"containers": [{"name": "c", "image": "nginx"}]},
                },
            },
        },
        ns,
    )
    rc = c.get("replicationcontrollers", "legacy", ns)
    assert rc["spec"]["selector"] == {"app": "legacy"}  # defaulted from the template
    wait_for(lambda: len([p for p in live(c, ns) if is_ready(p)]) == 3, "three ready pods")
    wait_for(
        lambda: (
            c.get("replicationcontrollers", "legacy", ns).get("status", {}).get("readyReplicas")
            == 3
        ),
        "status readyReplicas 3",
    )
    victim = live(c, ns)[0]["metadata"]["name"]
    c.delete("pods", victim, ns, grace_period_seconds=0)
    wait_for(
        lambda: (
            len(live(c, ns)) == 3 and victim not in {p["metadata"]["name"] for p in live(c, ns)}
        ),
        "the deleted pod replaced",
    )
    out = kl(cluster.api.kubeconfig, "scale", "rc/legacy", "--replicas=1", "-n", ns).ok().out
    assert "scaled" in out
    scale = c.get("replicationcontrollers", "legacy", ns, subresource="scale")
    assert scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "app=legacy"
    wait_for(lambda: len(live(c, ns)) == 1, "scaled down to one pod")
    page = kl(cluster.api.kubeconfig, "describe", "rc", "legacy", "-n", ns).ok().out
    assert "Selector:" in page and "app=legacy" in page and "1 current / 1 desired" in page
    table = kl(cluster.api.kubeconfig, "get", "rc", "-n", ns).ok().out
    assert table.split()[:5] == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
