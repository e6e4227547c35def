"""The kinds the other compat files leave out, round-tripped through the real kubectl:
ClusterRole (with an aggregationRule) and ClusterRoleBinding (apply, get -o yaml,
describe, delete), ResourceQuota and LimitRange (get -o yaml, delete), a user-made
IngressClass (apply, describe, delete), and each one's discovery row in api-resources
(short names, categories, namespaced, kind) as Kubernetes lists it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.compat.conftest import Cluster, Kubectl
from tests.compat.test_kubectl import gone, rows
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)

RBAC = "rbac.authorization.k8s.io"
READER: dict[str, Any] = {
    "apiVersion": f"{RBAC}/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "lab-node-reader", "labels": {"lab.test/aggregate": "true"}},
    "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}],
}
AGGREGATE = {
    "apiVersion": f"{RBAC}/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "lab-aggregate"},
    "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"lab.test/aggregate": "true"}}]},
}
BINDING = {
    "apiVersion": f"{RBAC}/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "lab-node-readers"},
    "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "lab-aggregate"},
    "subjects": [
        {"kind": "User", "apiGroup": RBAC, "name": "ada"},
        {"kind": "Group", "apiGroup": RBAC, "name": "lab:students"},
        {"kind": "ServiceAccount", "name": "watcher", "namespace": "default"},
    ],
}
QUOTA: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ResourceQuota",
    "metadata": {"name": "gpus"},
    "spec": {"hard": {"requests.nvidia.com/gpu": "2", "pods": "4"}},
}
LIMITS: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "LimitRange",
    "metadata": {"name": "bounds"},
    "spec": {
        "limits": [
            {"type": "Container", "max": {"cpu": "2"}, "defaultRequest": {"cpu": "100m"}},
        ]
    },
}
INGRESS_CLASS = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "IngressClass",
    "metadata": {"name": "lab-nginx", "labels": {"app.kubernetes.io/name": "ingress-nginx"}},
    "spec": {
        "controller": "k8s.io/ingress-nginx",
        "parameters": {
            "apiGroup": "k8s.example.com",
            "kind": "IngressParameters",
            "name": "external-lb",
        },
    },
}


def test_discovery_rows_of_the_cluster_kinds(kubectl: Kubectl) -> None:
    table = rows(kubectl("api-resources", "-o", "wide"))
    # name: (SHORTNAMES, APIVERSION, NAMESPACED, KIND, CATEGORIES), as kube-apiserver lists them
    want = {
        "clusterroles": ("", f"{RBAC}/v1", "false", "ClusterRole", ""),
        "clusterrolebindings": ("", f"{RBAC}/v1", "false", "ClusterRoleBinding", ""),
        "resourcequotas": ("quota", "v1", "true", "ResourceQuota", ""),
        "limitranges": ("limits", "v1", "true", "LimitRange", ""),
        "ingressclasses": ("", "networking.k8s.io/v1", "false", "IngressClass", ""),
    }
    for name, row in want.items():
        got = table[name]
        cells = ("SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "CATEGORIES")
        assert tuple(got[c] for c in cells) == row, (name, got)
    verbs = table["clusterroles"]["VERBS"]
    assert verbs == "create,delete,deletecollection,get,list,patch,update,watch", verbs
    assert kubectl("get", "quota", "-A", "-o", "name") is not None  # the short names resolve
    assert kubectl("get", "limits", "-A", "-o", "name") is not None


def test_clusterrole_and_binding_round_trip(kubectl: Kubectl, cluster: Cluster) -> None:
    cl = cluster.api.client()
    docs = "---\n".join(yaml.safe_dump(d) for d in (READER, AGGREGATE, BINDING))
    out = kubectl("apply", "-f", "-", input=docs)
    assert "clusterrole.rbac.authorization.k8s.io/lab-aggregate created" in out
    assert "clusterrolebinding.rbac.authorization.k8s.io/lab-node-readers created" in out

    def aggregated() -> dict[str, Any] | None:
        role = yaml.safe_load(kubectl("get", "clusterrole", "lab-aggregate", "-o", "yaml"))
        return role if role.get("rules") else None

    role = wait_for(aggregated, "the aggregation controller fills lab-aggregate's rules")
    assert role["rules"] == READER["rules"]
    assert role["aggregationRule"] == AGGREGATE["aggregationRule"]
    assert role["metadata"]["resourceVersion"] and role["metadata"]["uid"]

    described = kubectl("describe", "clusterrole", "lab-aggregate")
    assert "Name:         lab-aggregate" in described
    assert "PolicyRule:" in described
    line = next(ln for ln in described.splitlines() if ln.strip().startswith("nodes"))
    assert line.endswith("[get list watch]"), line

    stored = yaml.safe_load(kubectl("get", "clusterrolebinding", "lab-node-readers", "-o", "yaml"))
    assert stored["roleRef"] == BINDING["roleRef"]
    assert stored["subjects"] == BINDING["subjects"]
    wide = rows(kubectl("get", "clusterrolebinding", "lab-node-readers", "-o", "wide"))
    row = wide["lab-node-readers"]
    assert row["ROLE"] == "ClusterRole/lab-aggregate"
    assert (row["USERS"], row["GROUPS"], row["SERVICEACCOUNTS"]) == (
        "ada",
        "lab:students",
        "default/watcher",
    )
    described = kubectl("describe", "clusterrolebinding", "lab-node-readers")
    assert "Kind:  ClusterRole" in described and "Name:  lab-aggregate" in described
    subjects = [ln.split() for ln in described.split("Subjects:")[1].splitlines()[3:]]
    assert ["User", "ada"] in subjects and ["ServiceAccount", "watcher", "default"] in subjects

    out = kubectl("delete", "clusterrolebinding", "lab-node-readers")
    assert out.strip() == 'clusterrolebinding.rbac.authorization.k8s.io "lab-node-readers" deleted'
    out = kubectl("delete", "clusterrole", "lab-aggregate", "lab-node-reader")
    assert 'clusterrole.rbac.authorization.k8s.io "lab-aggregate" deleted' in out
    for resource, name in (
        ("clusterrolebindings", "lab-node-readers"),
        ("clusterroles", "lab-aggregate"),
        ("clusterroles", "lab-node-reader"),
    ):
        assert wait_for(lambda: gone(cl, resource, name, None), f"{name} gone")  # noqa: B023


def test_quota_and_limit_range_yaml_and_delete(
    kubectl: Kubectl, cluster: Cluster, namespace: str
) -> None:
    cl = cluster.api.client()
    docs = "---\n".join(yaml.safe_dump(d) for d in (QUOTA, LIMITS))
    kubectl("apply", "-n", namespace, "-f", "-", input=docs)

    def with_used() -> dict[str, Any] | None:
        q = yaml.safe_load(kubectl("get", "quota", "gpus", "-n", namespace, "-o", "yaml"))
        return q if (q.get("status") or {}).get("used") else None

    quota = wait_for(with_used, "the quota's status.used")
    assert quota["kind"] == "ResourceQuota" and quota["apiVersion"] == "v1"
    assert quota["spec"] == QUOTA["spec"]
    assert quota["status"]["hard"] == QUOTA["spec"]["hard"]
    assert quota["status"]["used"] == {"requests.nvidia.com/gpu": "0", "pods": "0"}
    limits = yaml.safe_load(kubectl("get", "limits", "bounds", "-n", namespace, "-o", "yaml"))
    assert limits["kind"] == "LimitRange"
    # Kubernetes' defaulting of a Container item: an unset default takes the max.
    (item,) = limits["spec"]["limits"]
    assert item == {**LIMITS["spec"]["limits"][0], "default": {"cpu": "2"}}
    as_list = yaml.safe_load(kubectl("get", "limitranges", "-n", namespace, "-o", "yaml"))
    assert as_list["kind"] == "List" and [i["metadata"]["name"] for i in as_list["items"]] == [
        "bounds"
    ]

    out = kubectl("delete", "quota", "gpus", "-n", namespace)
    assert out.strip() == f'resourcequota "gpus" deleted from {namespace} namespace'
    out = kubectl("delete", "limits", "bounds", "-n", namespace)
    assert out.strip() == f'limitrange "bounds" deleted from {namespace} namespace'
    assert wait_for(lambda: gone(cl, "resourcequotas", "gpus", namespace), "quota gone")
    assert wait_for(lambda: gone(cl, "limitranges", "bounds", namespace), "limits gone")
    assert "No resources found" in kubectl.run("get", "quota,limits", "-n", namespace).stderr


def test_user_made_ingress_class_round_trip(kubectl: Kubectl, cluster: Cluster) -> None:
    cl = cluster.api.client()
    out = kubectl("apply", "-f", "-", input=yaml.safe_dump(INGRESS_CLASS))
    assert out.strip() == "ingressclass.networking.k8s.io/lab-nginx created"
    row = rows(kubectl("get", "ingressclass"))["lab-nginx"]
    assert row["CONTROLLER"] == "k8s.io/ingress-nginx"
    assert row["PARAMETERS"] == "IngressParameters.k8s.example.com/external-lb"
    stored = yaml.safe_load(kubectl("get", "ingressclass", "lab-nginx", "-o", "yaml"))
    assert stored["spec"] == INGRESS_CLASS["spec"]
    described = kubectl("describe", "ingressclass", "lab-nginx")
    assert "Controller:   k8s.io/ingress-nginx" in described
    assert "Kind:      IngressParameters" in described and "Name:      external-lb" in described

    out = kubectl("delete", "ingressclass", "lab-nginx")
    assert out.strip() == 'ingressclass.networking.k8s.io "lab-nginx" deleted'
    assert wait_for(lambda: gone(cl, "ingressclasses", "lab-nginx", None), "class gone")
