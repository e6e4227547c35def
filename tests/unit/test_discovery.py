"""Discovery documents: shapes kubectl and the Python client rely on (API-COMPAT §2)."""

from __future__ import annotations

from api.registry import RESOURCES
from apiserver import discovery


def _entries(group: str, version: str) -> dict[str, dict]:
    doc = discovery.api_resource_list(group, version)
    assert doc is not None
    return {e["name"]: e for e in doc["resources"]}


def test_api_versions_names_server_address() -> None:
    doc = discovery.api_versions("127.0.0.1:6443")
    assert doc["kind"] == "APIVersions"
    assert doc["versions"] == ["v1"]
    assert doc["serverAddressByClientCIDRs"] == [
        {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
    ]


def test_group_list_has_every_named_group_once_with_preferred_version() -> None:
    doc = discovery.api_group_list()
    names = [g["name"] for g in doc["groups"]]
    assert names == [
        "apps",
        "batch",
        "autoscaling",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "rbac.authorization.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "metrics.k8s.io",
        "custom.metrics.k8s.io",
        "policy",
        "scheduling.k8s.io",
        "scheduling.kubelab.io",
        "storage.k8s.io",
        "networking.k8s.io",
        "certificates.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
    ]
    apps = doc["groups"][0]
    assert apps["versions"] == [{"groupVersion": "apps/v1", "version": "v1"}]
    assert apps["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}


def test_core_resource_list_has_every_core_kind_with_required_fields() -> None:
    doc = discovery.api_resource_list("", "v1")
    assert doc is not None and doc["groupVersion"] == "v1"
    entries = _entries("", "v1")
    core = [r for r in RESOURCES if not r.group]
    for r in core:
        e = entries[r.plural]
        assert e["kind"] == r.kind and e["namespaced"] == r.namespaced
        assert e["singularName"] == r.singular
    # The Python client raises on an APIResource without these fields.
    for e in doc["resources"]:
        assert {"name", "singularName", "namespaced", "kind", "verbs"} <= set(e)


def test_pods_entry_is_in_category_all_with_short_name() -> None:
    pods = _entries("", "v1")["pods"]
    assert pods["categories"] == ["all"]
    assert pods["shortNames"] == ["po"]
    assert "watch" in pods["verbs"] and "patch" in pods["verbs"]


def test_eviction_subresource_names_policy_group_for_drain() -> None:
    ev = _entries("", "v1")["pods/eviction"]
    assert ev == {
        "name": "pods/eviction",
        "singularName": "",
        "namespaced": True,
        "kind": "Eviction",
        "verbs": ["create"],
        "group": "policy",
        "version": "v1",
    }


def test_subresources_listed_separately() -> None:
    core = _entries("", "v1")
    assert core["pods/status"]["kind"] == "Pod"
    assert core["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert "group" not in core["pods/status"]
    assert core["pods/log"]["verbs"] == ["get"]
    assert core["pods/binding"]["kind"] == "Binding"
    assert core["nodes/status"]["namespaced"] is False
    apps = _entries("apps", "v1")
    scale = apps["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert "replicasets/scale" in apps
    assert apps["statefulsets/scale"]["kind"] == "Scale"
    assert apps["statefulsets"]["shortNames"] == ["sts"]
    assert apps["statefulsets/status"]["kind"] == "StatefulSet"


def test_categories_all_on_exactly_the_workload_kinds() -> None:
    in_all = set()
    for group, version in [("", "v1"), ("apps", "v1"), ("batch", "v1")]:
        for name, e in _entries(group, version).items():
            if "all" in e.get("categories", []):
                in_all.add(name)
    assert in_all == {
        "pods",
        "services",
        "deployments",
        "replicasets",
        "replicationcontrollers",
        "statefulsets",
        "jobs",
        "daemonsets",
        "cronjobs",
    }


def test_unknown_group_version_is_none() -> None:
    assert discovery.api_resource_list("apps", "v2") is None
    assert discovery.api_resource_list("networking.k8s.io", "v2") is None
    assert discovery.api_resource_list("", "v2") is None


def test_aggregated_core_has_one_unnamed_group() -> None:
    doc = discovery.aggregated_discovery(core=True)
    assert doc["kind"] == "APIGroupDiscoveryList"
    assert doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    assert len(doc["items"]) == 1
    item = doc["items"][0]
    assert item["metadata"]["name"] == ""
    (version,) = item["versions"]
    assert version["version"] == "v1"
    res = {r["resource"]: r for r in version["resources"]}
    pods = res["pods"]
    assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    subs = {s["subresource"]: s for s in pods["subresources"]}
    assert subs["eviction"]["responseKind"] == {
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
    }
    assert res["nodes"]["scope"] == "Cluster"


def test_aggregated_apis_has_one_item_per_group() -> None:
    doc = discovery.aggregated_discovery(core=False)
    names = [i["metadata"]["name"] for i in doc["items"]]
    assert names == [
        "apps",
        "batch",
        "autoscaling",
        "coordination.k8s.io",
        "discovery.k8s.io",
        "rbac.authorization.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "metrics.k8s.io",
        "custom.metrics.k8s.io",
        "policy",
        "scheduling.k8s.io",
        "scheduling.kubelab.io",
        "storage.k8s.io",
        "networking.k8s.io",
        "certificates.k8s.io",
        "apiextensions.k8s.io",
        "admissionregistration.k8s.io",
    ]
    apps = doc["items"][0]["versions"][0]["resources"]
    deploy = next(r for r in apps if r["resource"] == "deployments")
    assert deploy["categories"] == ["all"] and deploy["shortNames"] == ["deploy"]
    scale = next(s for s in deploy["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"]["kind"] == "Scale"


def test_wants_aggregated_parses_kubectl_accept_header() -> None:
    kubectl = (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
        "application/json"
    )
    assert discovery.wants_aggregated(kubectl)
    assert not discovery.wants_aggregated("application/json")
    assert not discovery.wants_aggregated(None)
    assert not discovery.wants_aggregated(
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    )


def test_version_info_has_every_field_the_python_client_requires() -> None:
    info = discovery.version_info()
    required = {
        "buildDate",
        "compiler",
        "gitCommit",
        "gitTreeState",
        "gitVersion",
        "goVersion",
        "major",
        "minor",
        "platform",
    }
    assert required <= set(info)
    assert all(isinstance(v, str) and v for v in info.values())
    assert (info["major"], info["minor"]) == ("1", "35")
    assert info["gitVersion"].startswith("v1.35.")


def test_quota_kinds_are_core_with_kubectl_short_names() -> None:
    core = _entries("", "v1")
    assert core["resourcequotas"]["shortNames"] == ["quota"]
    assert core["resourcequotas"]["namespaced"] is True
    assert core["resourcequotas/status"]["kind"] == "ResourceQuota"
    assert core["limitranges"]["shortNames"] == ["limits"]
    assert core["limitranges"]["kind"] == "LimitRange"
