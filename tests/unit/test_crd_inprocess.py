"""CustomResourceDefinitions against the in-process apiserver: lifecycle (Established,
NamesAccepted, a name conflict), discovery and OpenAPI, custom objects' CRUD, list/watch,
selectors, schema checks, status and scale subresources, printer columns, several
versions, and the deletion of a CRD removing its objects."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from tests.inprocess import InProcessApi

pytestmark = pytest.mark.anyio

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"

WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
            "categories": ["all"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["size"],
                                "properties": {
                                    "size": {"type": "string", "enum": ["S", "M", "L"]},
                                    "replicas": {"type": "integer", "minimum": 0, "default": 1},
                                    "selector": {"type": "string"},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "replicas": {"type": "integer"},
                                    "phase": {"type": "string"},
                                },
                            },
                        },
                    }
                },
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                        "labelSelectorPath": ".spec.selector",
                    },
                },
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                ],
            }
        ],
    },
}


def widget(name: str, size: str = "M", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {"size": size, **spec},
    }


async def wait_for(cond: Any, timeout: float = 5.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        got = await cond()
        if got:
            return got
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def condition(crd: dict[str, Any], ctype: str) -> dict[str, Any] | None:
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c.get("type") == ctype:
            return dict(c)
    return None


async def established(api: InProcessApi, name: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        r = await api.client.get(f"{CRDS}/{name}")
        crd: dict[str, Any] = r.json()
        c = condition(crd, "Established")
        return crd if c and c["status"] == "True" else None

    out: dict[str, Any] = await wait_for(check)
    return out


async def test_crd_established_and_served(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    created = await api.create(CRDS, copy.deepcopy(WIDGET_CRD))
    assert "customresourcecleanup.apiextensions.k8s.io" in created["metadata"]["finalizers"]
    # Served at once: the create right after the CRD's succeeds.
    w = await api.create(WIDGETS, widget("a"))
    assert w["spec"] == {"size": "M", "replicas": 1}  # defaulted
    crd = await established(api, "widgets.example.com")
    assert condition(crd, "NamesAccepted")["reason"] == "NoConflicts"  # type: ignore[index]
    assert crd["status"]["acceptedNames"]["plural"] == "widgets"
    assert crd["status"]["storedVersions"] == ["v1"]


async def test_discovery_and_openapi(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(CRDS, copy.deepcopy(WIDGET_CRD))
    r = await api.client.get("/apis/example.com/v1")
    assert r.status_code == 200
    res = {e["name"]: e for e in r.json()["resources"]}
    assert res["widgets"]["shortNames"] == ["wd"] and res["widgets"]["kind"] == "Widget"
    assert "widgets/status" in res and res["widgets/scale"]["kind"] == "Scale"
    groups = (await api.client.get("/apis")).json()["groups"]
    assert any(g["name"] == "example.com" for g in groups)
    accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    agg = (await api.client.get("/apis", headers={"accept": accept})).json()
    item = next(i for i in agg["items"] if i["metadata"]["name"] == "example.com")
    assert item["versions"][0]["resources"][0]["resource"] == "widgets"
    root = (await api.client.get("/openapi/v3")).json()["paths"]
    assert "apis/example.com/v1" in root
    doc = (await api.client.get("/openapi/v3/apis/example.com/v1")).json()
    schema = doc["components"]["schemas"]["com.example.v1.Widget"]
    assert schema["properties"]["spec"]["required"] == ["size"]
    assert "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}" in doc["paths"]


async def test_names_conflict(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(CRDS, copy.deepcopy(WIDGET_CRD))
    other = copy.deepcopy(WIDGET_CRD)
    other["metadata"]["name"] = "gadgets.example.com"
    other["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget", "shortNames": ["wd"]}
    await api.create(CRDS, other)

    async def refused() -> dict[str, Any] | None:
        crd = (await api.client.get(f"{CRDS}/gadgets.example.com")).json()
        c = condition(crd, "NamesAccepted")
        return c if c and c["status"] == "False" else None

    c = await wait_for(refused)
    assert c["reason"] == "NameConflict" and c["message"] == '"wd" is already in use'
    r = await api.client.get("/apis/example.com/v1/namespaces/default/gadgets")
    assert r.status_code == 404


async def test_refused_crds(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    cel = copy.deepcopy(WIDGET_CRD)
    schema = cel["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["x-kubernetes-validations"] = [{"rule": "self.spec.size != 'L'"}]
    code, body = await api.status_of("POST", CRDS, json=cel)
    assert code == 422 and "CEL validation rules are not supported" in body["message"]
    hook = copy.deepcopy(WIDGET_CRD)
    hook["spec"]["conversion"] = {"strategy": "Webhook"}
    code, body = await api.status_of("POST", CRDS, json=hook)
    assert code == 422 and "spec.conversion.strategy" in body["message"]
    bad_name = copy.deepcopy(WIDGET_CRD)
    bad_name["metadata"]["name"] = "widgets"
    code, body = await api.status_of("POST", CRDS, json=bad_name)
    assert code == 422 and "metadata.name" in body["message"]


async def test_schema_validation_messages(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(CRDS, copy.deepcopy(WIDGET_CRD))
    code, body = await api.status_of("POST", WIDGETS, json=widget("a", replicas="two"))
    assert code == 422
    assert (
        body["message"]
        == (
            'Widget.example.com "a" is invalid: spec.replicas: Invalid value: "string": '
            'spec.replicas in body must be of type integer: "string"'
        )
        or 'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'
        in body["message"]
    )
    code, body = await api.status_of("POST", WIDGETS, json=widget("a", size="XL"))
    assert code == 422
    assert 'spec.size: Unsupported value: "XL": supported values: "S", "M", "L"' in body["message"]
    w = widget("a")
    del w["spec"]["size"]
    code, body = await api.status_of("POST", WIDGETS, json=w)
    assert code == 422 and "spec.size: Required value" in body["message"]
    # Unknown fields: refused with Strict (kubectl), pruned with a warning otherwise.
    code, body = await api.status_of(
        "POST", WIDGETS, json=widget("a", colour="red"), params={"fieldValidation": "Strict"}
    )
    assert code == 400 and 'unknown field "spec.colour"' in body["message"]
    r = await api.client.post(WIDGETS, json=widget("a", colour="red"))
    assert r.status_code == 201 and "colour" not in r.json()["spec"]
    assert 'unknown field \\"spec.colour\\"' in r.headers["warning"]


async def test_crud_list_watch_selectors(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(CRDS, copy.deepcopy(WIDGET_CRD))
    for n in ("a", "b", "c"):
        await api.create(WIDGETS, widget(n))
    listed = (await api.client.get(WIDGETS, params={"limit": "2"})).json()
    assert listed["kind"] == "WidgetList" and len(listed["items"]) == 2
    rest = (
        await api.client.get(WIDGETS, params={"continue": listed["metadata"]["continue"]})
    ).json()
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"]
    by_label = (await api.client.get(WIDGETS, params={"labelSelector": "app=b"})).json()
    assert [i["metadata"]["name"] for i in by_label["items"]] == ["b"]
    by_field = (await api.client.get(WIDGETS, params={"fieldSelector": "metadata.name=c"})).json()
    assert [i["metadata"]["name"] for i in by_field["items"]] == ["c"]
    rv = listed["metadata"]["resourceVersion"]
    r = await api.client.patch(
        f"{WIDGETS}/a",
        json={"spec": {"size": "L"}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200 and r.json()["spec"]["size"] == "L"
    assert r.json()["metadata"]["generation"] == 2
    code, _ = await api.status_of("DELETE", f"{WIDGETS}/b")
    assert code == 200
    w = await api.client.get(
        WIDGETS, params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}
    )
    import json

    events = [json.loads(line) for line in w.text.splitlines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("MODIFIED", "a"),
        ("DELETED", "b"),
    ]
    all_ns = (await api.client.get("/apis/example.com/v1/widgets")).json()
    assert len(all_ns["items"]) == 2


async def test_status_and_scale(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(CRDS, copy.deepcopy(WIDGET_CRD))
    await api.create(WIDGETS, {**widget("a", selector="app=a"), "status": {"phase": "Hi"}})
    got = (await api.client.get(f"{WIDGETS}/a")).json()
    assert "status" not in got  # the main resource ignores status
    got["status"] = {"phase": "Ready", "replicas": 1}
    r = await api.client.put(f"{WIDGETS}/a/status", json=got)
    assert r.status_code == 200 and r.json()["status"]["phase"] == "Ready"
    assert r.json()["metadata"]["generation"] == 1
    bad = {**r.json(), "status": {"replicas": "one"}}
    code, body = await api.status_of("PUT", f"{WIDGETS}/a/status", json=bad)
    assert code == 422 and "status.replicas in body must be of type integer" in body["message"]
    scale = (await api.client.get(f"{WIDGETS}/a/scale")).json()
    assert scale["spec"]["replicas"] == 1 and scale["status"] == {
        "replicas": 1,
        "selector": "app=a",
    }
    r = await api.client.patch(
        f"{WIDGETS}/a/scale",
        json={"spec": {"replicas": 4}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200 and r.json()["spec"]["replicas"] == 4
    assert (await api.client.get(f"{WIDGETS}/a")).json()["spec"]["replicas"] == 4


async def test_printer_columns_table(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(CRDS, copy.deepcopy(WIDGET_CRD))
    await api.create(WIDGETS, widget("a", size="S", replicas=3))
    table = (
        await api.client.get(
            WIDGETS, headers={"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
        )
    ).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Size", "Replicas", "Phase"]
    assert table["rows"][0]["cells"] == ["a", "S", 3, None]


async def test_cluster_scope_and_versions(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    crd = copy.deepcopy(WIDGET_CRD)
    crd["spec"]["scope"] = "Cluster"
    v1 = crd["spec"]["versions"][0]
    v1beta1 = {**copy.deepcopy(v1), "name": "v1beta1", "storage": False}
    crd["spec"]["versions"] = [v1beta1, v1]
    await api.create(CRDS, crd)
    beta = "/apis/example.com/v1beta1/widgets"
    made = await api.create(beta, {**widget("x"), "apiVersion": "example.com/v1beta1"})
    assert made["apiVersion"] == "example.com/v1beta1" and "namespace" not in made["metadata"]
    assert (await api.client.get("/apis/example.com/v1/widgets/x")).json()["apiVersion"] == (
        "example.com/v1"
    )
    assert (await api.client.get(f"{beta}/x")).json()["apiVersion"] == "example.com/v1beta1"
    stored = api.server.store.get("example.com/widgets", "", "x")
    assert stored is not None and stored["apiVersion"] == "example.com/v1"
    groups = (await api.client.get("/apis")).json()["groups"]
    g = next(g for g in groups if g["name"] == "example.com")
    assert g["preferredVersion"]["version"] == "v1"


async def test_deleting_crd_deletes_objects(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    await api.create(CRDS, copy.deepcopy(WIDGET_CRD))
    await established(api, "widgets.example.com")
    await api.create(WIDGETS, widget("a"))
    held = widget("b")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    await api.create(WIDGETS, held)
    code, _ = await api.status_of("DELETE", f"{CRDS}/widgets.example.com")
    assert code == 200

    async def only_held_left() -> bool:
        items = api.server.store.list_raw("example.com/widgets", None)[1]
        return len(items) == 1

    await wait_for(only_held_left)
    crd = (await api.client.get(f"{CRDS}/widgets.example.com")).json()
    assert condition(crd, "Terminating") is not None  # held by b's finalizer
    r = await api.client.patch(
        f"{WIDGETS}/b",
        json={"metadata": {"finalizers": None}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 200

    async def crd_gone() -> bool:
        return (await api.client.get(f"{CRDS}/widgets.example.com")).status_code == 404

    await wait_for(crd_gone)
    assert (await api.client.get(WIDGETS)).status_code == 404
