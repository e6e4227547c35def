"""The REST verbs of apiserver/rest.py and apiserver/objects.py, in process (tests/inprocess.py):
create, get, list with selectors, conflicts, deletes with finalizers and grace,
deletecollection, scale, and the Status a bad selector gets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.inprocess import InProcessApi

pytestmark = [pytest.mark.anyio, pytest.mark.inprocess]

PODS = "/api/v1/namespaces/default/pods"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def configmap(name: str, finalizers: list[str] | None = None, **labels: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


async def names(api: InProcessApi, path: str, **params: str) -> list[str]:
    r = await api.client.get(path, params=params)
    assert r.status_code == 200, r.text
    return sorted(i["metadata"]["name"] for i in r.json()["items"])


async def bind(api: InProcessApi, name: str, node: str) -> None:
    body = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name},
        "target": {"kind": "Node", "name": node},
    }
    r = await api.client.post(f"{PODS}/{name}/binding", json=body)
    assert r.status_code == 201, r.text


async def test_create_get_and_list_with_label_and_field_selectors(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    created = await api.create(PODS, pod("web-1", app="web", tier="front"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    await api.create(PODS, pod("web-2", app="web"))
    await api.create(PODS, pod("db-1", app="db"))
    got = (await api.client.get(f"{PODS}/web-1")).json()
    assert got["metadata"]["uid"] == created["metadata"]["uid"]

    assert await names(api, PODS) == ["db-1", "web-1", "web-2"]
    assert await names(api, PODS, labelSelector="app=web") == ["web-1", "web-2"]
    assert await names(api, PODS, labelSelector="app in (web,db),!tier") == ["db-1", "web-2"]
    assert await names(api, PODS, fieldSelector="metadata.name=db-1") == ["db-1"]
    assert await names(
        api, PODS, labelSelector="app=web", fieldSelector="metadata.name!=web-1"
    ) == ["web-2"]
    # An empty term is skipped, as by Kubernetes (kubectl users type trailing commas).
    assert await names(api, PODS, fieldSelector="metadata.name=db-1,") == ["db-1"]
    # Across namespaces, and with a limit over a filtered list.
    assert await names(api, "/api/v1/pods", labelSelector="app=db") == ["db-1"]
    r = await api.client.get(PODS, params={"labelSelector": "app=web", "limit": "1"})
    body = r.json()
    assert [i["metadata"]["name"] for i in body["items"]] == ["web-1"]
    assert body["metadata"]["continue"]


async def test_node_name_field_selector_on_pods_uses_the_binding(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    for name in ("a", "b", "c"):
        await api.create(PODS, pod(name))
    await bind(api, "a", "n1")
    await bind(api, "c", "n2")
    assert await names(api, PODS, fieldSelector="spec.nodeName=n1") == ["a"]
    assert await names(api, PODS, fieldSelector="spec.nodeName=") == ["b"]
    assert await names(api, "/api/v1/pods", fieldSelector="spec.nodeName!=n1") == ["b", "c"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"labelSelector": "app web"}, "labelSelector"),
        ({"labelSelector": "env in ()"}, "labelSelector"),
        ({"fieldSelector": "metadata.name"}, "fieldSelector"),
        ({"labelSelector": "app=web", "fieldSelector": "=x"}, "fieldSelector"),
    ],
)
async def test_a_bad_selector_is_a_400_status_naming_the_parameter_and_changes_nothing(
    inprocess_api: InProcessApi, params: dict[str, str], parameter: str
) -> None:
    api = inprocess_api
    await api.create(PODS, pod("web-1", app="web"))
    for method, extra in (("GET", {}), ("GET", {"watch": "true"}), ("DELETE", {})):
        code, status = await api.status_of(method, PODS, params={**params, **extra})
        assert code == 400, (method, extra, status)
        assert status["kind"] == "Status" and status["reason"] == "BadRequest"
        assert status["message"].startswith(f"query parameter {parameter}: "), status
    assert await names(api, PODS) == ["web-1"]


async def test_update_with_a_stale_resource_version_is_a_409_and_changes_nothing(
    inprocess_api_any_db: InProcessApi,
) -> None:
    api = inprocess_api_any_db
    first = await api.create(CONFIGMAPS, configmap("cfg"))
    fresh = dict(first, data={"k": "v2"})
    r = await api.client.put(f"{CONFIGMAPS}/cfg", json=fresh)
    assert r.status_code == 200, r.text
    second = r.json()
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])

    stale = dict(first, data={"k": "lost"})  # still carries the first resourceVersion
    code, status = await api.status_of("PUT", f"{CONFIGMAPS}/cfg", json=stale)
    assert code == 409 and status["reason"] == "Conflict", status
    assert status["details"]["name"] == "cfg"
    code, status = await api.status_of(
        "PATCH",
        f"{CONFIGMAPS}/cfg",
        json={"metadata": {"resourceVersion": first["metadata"]["resourceVersion"]}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert code == 409, status
    now = (await api.client.get(f"{CONFIGMAPS}/cfg")).json()
    assert now["data"] == {"k": "v2"}
    assert now["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]


async def test_finalizers_hold_a_deleted_object_until_the_last_one_is_removed(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    await api.create(CONFIGMAPS, configmap("held", finalizers=["example.com/a", "example.com/b"]))
    r = await api.client.delete(f"{CONFIGMAPS}/held")
    assert r.status_code == 200, r.text
    marked = (await api.client.get(f"{CONFIGMAPS}/held")).json()
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["finalizers"] == ["example.com/a", "example.com/b"]

    merge = {"content-type": "application/merge-patch+json"}
    r = await api.client.patch(
        f"{CONFIGMAPS}/held", json={"metadata": {"finalizers": ["example.com/b"]}}, headers=merge
    )
    assert r.status_code == 200, r.text
    assert (await api.client.get(f"{CONFIGMAPS}/held")).status_code == 200
    r = await api.client.patch(
        f"{CONFIGMAPS}/held", json={"metadata": {"finalizers": None}}, headers=merge
    )
    assert r.status_code == 200, r.text
    code, status = await api.status_of("GET", f"{CONFIGMAPS}/held")
    assert code == 404 and status["reason"] == "NotFound"


async def test_a_bound_pod_is_deleted_gracefully_and_an_unbound_one_at_once(
    inprocess_api: InProcessApi,
) -> None:
    api = inprocess_api
    await api.create(PODS, pod("bound"))
    await api.create(PODS, pod("pending"))
    await bind(api, "bound", "n1")

    r = await api.client.delete(f"{PODS}/pending")
    assert r.status_code == 200, r.text
    assert (await api.client.get(f"{PODS}/pending")).status_code == 404

    r = await api.client.delete(f"{PODS}/bound", params={"gracePeriodSeconds": "7"})
    assert r.status_code == 200, r.text
    marked = (await api.client.get(f"{PODS}/bound")).json()
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 7
    # The kubelet's final delete (grace 0) removes it.
    r = await api.client.delete(f"{PODS}/bound", params={"gracePeriodSeconds": "0"})
    assert r.status_code == 200, r.text
    assert (await api.client.get(f"{PODS}/bound")).status_code == 404


async def test_deletecollection_deletes_only_what_the_selectors_select(
    inprocess_api_any_db: InProcessApi,
) -> None:
    api = inprocess_api_any_db
    await api.create(CONFIGMAPS, configmap("a", app="web"))
    await api.create(CONFIGMAPS, configmap("b", app="web"))
    await api.create(CONFIGMAPS, configmap("c", app="db"))
    r = await api.client.delete(
        CONFIGMAPS, params={"labelSelector": "app=web", "fieldSelector": "metadata.name!=b"}
    )
    assert r.status_code == 200, r.text
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["a"]
    assert await names(api, CONFIGMAPS) == ["b", "c"]
    r = await api.client.delete(CONFIGMAPS, params={"labelSelector": "app=web"})
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["b"]
    assert await names(api, CONFIGMAPS) == ["c"]


async def test_scale_subresource_reads_and_writes_replicas(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    deployments = "/apis/apps/v1/namespaces/default/deployments"
    labels = {"app": "web"}
    await api.create(
        deployments,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                },
            },
        },
    )
    scale = (await api.client.get(f"{deployments}/web/scale")).json()
    assert scale["spec"]["replicas"] == 1 and scale["status"]["selector"] == "app=web"
    scale["spec"]["replicas"] = 3
    r = await api.client.put(f"{deployments}/web/scale", json=scale)
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 3, r.text
    r = await api.client.patch(
        f"{deployments}/web/scale",
        json={"spec": {"replicas": 2}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 2, r.text
    # The stale resourceVersion of the first read loses.
    code, status = await api.status_of("PUT", f"{deployments}/web/scale", json=scale)
    assert code == 409, status
    code, status = await api.status_of("POST", f"{deployments}/web/scale", json=scale)
    assert code == 405, status
    dep = (await api.client.get(f"{deployments}/web")).json()
    assert dep["spec"]["replicas"] == 2
    # A Scale whose spec is not an object is refused naming spec.replicas, never a 500.
    for method, body in (("PUT", {"spec": 1}), ("PATCH", {"spec": 1}), ("PUT", [])):
        headers = {"content-type": "application/merge-patch+json"} if method == "PATCH" else {}
        code, status = await api.status_of(
            method, f"{deployments}/web/scale", json=body, headers=headers
        )
        assert code == 422 and status["details"]["causes"][0]["field"] == "spec.replicas", status
