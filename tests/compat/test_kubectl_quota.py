"""ResourceQuota and LimitRange through the real kubectl: discovery (quota, limits), apply,
get (the upstream columns), describe (kubectl's own describers reading our objects), the
status the controller keeps, LimitRange defaults on a pod, and a refused pod's message as
kubectl prints it."""

from __future__ import annotations

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_agree import Kl, assert_same_listing
from tests.compat.test_kubectl import rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)

QUOTA = {
    "apiVersion": "v1",
    "kind": "ResourceQuota",
    "metadata": {"name": "compute"},
    "spec": {"hard": {"pods": "3", "requests.nvidia.com/gpu": "2", "limits.memory": "1Gi"}},
}
LIMITS = {
    "apiVersion": "v1",
    "kind": "LimitRange",
    "metadata": {"name": "defaults"},
    "spec": {
        "limits": [
            {
                "type": "Container",
                "default": {"memory": "256Mi"},
                "defaultRequest": {"memory": "128Mi"},
                "max": {"memory": "512Mi"},
            }
        ]
    },
}


def gpu_pod(name: str, gpus: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox",
                        "resources": {"limits": {"nvidia.com/gpu": gpus}},
                    }
                ]
            },
        }
    )


@pytest.fixture(scope="module")
def kl(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Kl:
    return Kl(cluster.api.kubeconfig, tmp_path_factory.mktemp("kl-home"))


def test_quota_and_limit_range_through_kubectl(
    kubectl: Kubectl, kl: Kl, cluster: Cluster, namespace: str
) -> None:
    table = rows(kubectl("api-resources", "--api-group="))
    assert table["resourcequotas"]["SHORTNAMES"] == "quota"
    assert table["limitranges"]["SHORTNAMES"] == "limits"
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(LIMITS))
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(QUOTA))
    cl = cluster.api.client()
    wait_for(
        lambda: (cl.get("resourcequotas", "compute", namespace).get("status") or {}).get("used"),
        "the controller fills status.used",
    )
    kubectl("apply", "-n", namespace, "-f", "-", input=gpu_pod("first", 1))
    made = cl.get("pods", "first", namespace)
    assert made["spec"]["containers"][0]["resources"]["limits"]["memory"] == "256Mi"
    assert made["spec"]["containers"][0]["resources"]["requests"]["memory"] == "128Mi"
    wait_for(
        lambda: (
            (
                (cl.get("resourcequotas", "compute", namespace).get("status") or {}).get("used")
                or {}
            ).get("pods")
            == "1"
        ),
        "status.used counts the pod",
    )
    got = rows(kubectl("get", "quota", "-n", namespace))
    assert got["compute"]["REQUEST"] == "pods: 1/3, requests.nvidia.com/gpu: 1/2"
    assert got["compute"]["LIMIT"] == "limits.memory: 256Mi/1Gi"
    described = kubectl("describe", "quota", "compute", "-n", namespace)
    lines = [ln.split() for ln in described.splitlines()]
    assert ["Name:", "compute"] in lines and ["Namespace:", namespace] in lines
    assert ["Resource", "Used", "Hard"] in lines
    assert ["requests.nvidia.com/gpu", "1", "2"] in lines
    assert ["limits.memory", "256Mi", "1Gi"] in lines
    page = kubectl("describe", "limitrange", "defaults", "-n", namespace)
    assert ["Container", "memory", "-", "512Mi", "128Mi", "256Mi", "-"] in [
        ln.split() for ln in page.splitlines()
    ]
    assert rows(kubectl("get", "limits", "-n", namespace))["defaults"]["CREATED AT"].endswith("Z")

    scoped = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "long-running"},
        "spec": {"hard": {"pods": "5", "requests.memory": "2Gi"}, "scopes": ["NotTerminating"]},
    }
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(scoped))
    wait_for(
        lambda: (cl.get("resourcequotas", "long-running", namespace).get("status") or {}).get(
            "used"
        ),
        "the scoped quota's status.used",
    )
    # kl prints what kubectl prints: tables, and describe pages line for line.
    assert_same_listing(kubectl, kl, "quota", "-n", namespace)
    assert_same_listing(kubectl, kl, "limits", "-n", namespace)
    for args in (
        ("quota", "compute"),
        ("quota", "long-running"),
        ("limitrange", "defaults"),
        ("namespace", namespace),
    ):
        theirs = kubectl("describe", *args, "-n", namespace)
        assert kl("describe", *args, "-n", namespace) == theirs, theirs

    p = kubectl.fails("apply", "-n", namespace, "-f", "-", input=gpu_pod("greedy", 2))
    assert (
        'pods "greedy" is forbidden: exceeded quota: compute, requested: '
        "requests.nvidia.com/gpu=2, used: requests.nvidia.com/gpu=1, limited: "
        "requests.nvidia.com/gpu=2"
    ) in p.stderr
    assert "Error from server (Forbidden)" in p.stderr
    big = yaml.safe_load(gpu_pod("big", 1))
    big["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1Gi"
    p = kubectl.fails("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(big))
    assert (
        'pods "big" is forbidden: maximum memory usage per Container is 512Mi, but limit is 1Gi'
    ) in p.stderr


def test_kubectl_create_quota_generator(kubectl: Kubectl, cluster: Cluster, namespace: str) -> None:
    """kubectl create quota sends a protobuf body: decoded, validated and stored."""
    out = kubectl(
        "create",
        "quota",
        "gen",
        "--hard=pods=2,requests.nvidia.com/gpu=1",
        "--scopes=NotTerminating",
        "-n",
        namespace,
    )
    assert "resourcequota/gen created" in out
    stored = cluster.api.client().get("resourcequotas", "gen", namespace)
    assert stored["spec"] == {
        "hard": {"pods": "2", "requests.nvidia.com/gpu": "1"},
        "scopes": ["NotTerminating"],
    }
    p = kubectl.fails("create", "quota", "bad", "--hard=nvidia.com/gpu=1", "-n", namespace)
    assert "use requests.nvidia.com/gpu" in p.stderr
