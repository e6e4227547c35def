"""ResourceQuota against a real apiserver, controller manager and fake-runtime kubelet: the
resourcequota controller's status.used follows the pods (created, refused past the quota,
deleted), and ``kl get quota`` / ``kl describe quota`` show it as kubectl does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import Cluster, start_cluster
from tests.integration.ctrl_cluster import deployment, live_pods
from tests.integration.kl_helpers import kl
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)

NS = "quota-it"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = start_cluster(tmp_path_factory.mktemp("quota") / "home", nodes=1)
    try:
        c.wait_nodes_ready(timeout=60)
        yield c
    finally:
        c.stop()


def used(c: Any) -> dict[str, str]:
    return dict((c.get("resourcequotas", "compute", NS).get("status") or {}).get("used") or {})


def test_status_used_follows_pods(cluster: Cluster) -> None:
    c = cluster.client
    c.create("namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    c.create(
        "resourcequotas",
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "compute"},
            "spec": {"hard": {"pods": "2", "requests.cpu": "1", "count/deployments.apps": "1"}},
        },
        NS,
    )
    wait_for(
        lambda: used(c) == {"count/deployments.apps": "0", "pods": "0", "requests.cpu": "0"},
        "the controller fills status.used",
    )
    web = deployment("web", 3)
    web["spec"]["template"]["spec"]["containers"][0]["resources"] = {"requests": {"cpu": "400m"}}
    c.create("deployments", web, NS)
    # Two pods fit the quota; the ReplicaSet's third create is refused.
    wait_for(
        lambda: used(c) == {"count/deployments.apps": "1", "pods": "2", "requests.cpu": "800m"},
        "status.used counts the two admitted pods",
    )
    assert len(live_pods(c, NS, "app=web")) == 2
    wait_for(
        lambda: any(
            "exceeded quota: compute" in (e.get("message") or "")
            for e in c.list("events", NS)["items"]
        ),
        "the ReplicaSet's refused create reported",
    )
    table = kl(cluster.api.kubeconfig, "get", "quota", "-n", NS).ok().out
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert "count/deployments.apps: 1/1, pods: 2/2, requests.cpu: 800m/1" in row
    page = kl(cluster.api.kubeconfig, "describe", "quota", "compute", "-n", NS).ok().out
    lines = [ln.split() for ln in page.splitlines()]
    assert ["Resource", "Used", "Hard"] in lines
    assert ["pods", "2", "2"] in lines and ["requests.cpu", "800m", "1"] in lines
    # kl says why a pod is refused in one line, as kubectl does.
    extra = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: extra}\nspec:\n"
        "  containers: [{name: c, image: nginx, resources: {requests: {cpu: 100m}}}]\n"
    )
    refused = kl(cluster.api.kubeconfig, "apply", "-n", NS, "-f", "-", stdin=extra)
    assert refused.rc == 1 and "Traceback" not in refused.err
    assert refused.err == (
        'Error from server (Forbidden): error when creating "STDIN": pods "extra" is '
        "forbidden: exceeded quota: compute, requested: pods=1, used: pods=2, limited: pods=2\n"
    )
    # Deleting the Deployment frees everything it held.
    c.delete("deployments", "web", NS, propagation_policy="Foreground")
    wait_for(
        lambda: used(c) == {"count/deployments.apps": "0", "pods": "0", "requests.cpu": "0"},
        "status.used back to zero once the pods are gone",
        timeout=60,
    )


def test_kl_create_quota(cluster: Cluster) -> None:
    cfg = cluster.api.kubeconfig
    out = (
        kl(
            cfg,
            "create",
            "quota",
            "gpus",
            "--hard=requests.nvidia.com/gpu=4,pods=20",
            "--scopes=NotTerminating",
            "-n",
            "default",
        )
        .ok()
        .out
    )
    assert out.strip() == "resourcequota/gpus created"
    spec = cluster.client.get("resourcequotas", "gpus", "default")["spec"]
    assert spec == {
        "hard": {"requests.nvidia.com/gpu": "4", "pods": "20"},
        "scopes": ["NotTerminating"],
    }
    line = kl(cfg, "create", "quota", "bad", "--hard=pods").one_error_line()
    assert "--hard needs RESOURCE=QUANTITY pairs" in line
    refused = kl(cfg, "create", "quota", "bad", "--hard=nvidia.com/gpu=1")
    assert refused.rc == 1 and "use requests.nvidia.com/gpu" in refused.err
    assert len(refused.err.splitlines()) == 1
