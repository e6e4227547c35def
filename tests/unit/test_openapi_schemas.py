"""Kubernetes' schemas of the served kinds in the OpenAPI documents (apiserver/openapi.py,
apiserver/openapi_schemas.py): what kubectl explain, editors and server-side apply read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from api.registry import RESOURCES, ResourceInfo
from apiserver import openapi, openapi_schemas


def _gv(r: ResourceInfo) -> str:
    return f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@pytest.mark.parametrize("r", RESOURCES, ids=lambda r: f"{r.group or 'core'}.{r.kind}")
def test_every_served_kind_has_a_schema_in_its_document(r: ResourceInfo) -> None:
    doc = openapi.openapi_v3_document(_gv(r))
    assert doc is not None
    want = {"group": r.group, "version": r.version, "kind": r.kind}
    found = [
        (name, s)
        for name, s in doc["components"]["schemas"].items()
        if want in s.get("x-kubernetes-group-version-kind", [])
    ]
    assert found, f"no schema with the GVK {want}: add one (apiserver/openapi_schemas.py)"
    _, schema = found[0]
    assert schema["description"]
    assert {"apiVersion", "kind", "metadata"} <= set(schema["properties"])


def test_definition_names_are_kubernetes_own() -> None:
    doc = openapi.openapi_v3_document("api/v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    pod = schemas["io.k8s.api.core.v1.Pod"]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    # A ref beside a description goes into allOf (OpenAPI 3.0 ignores a $ref's siblings).
    meta = pod["properties"]["metadata"]
    assert meta["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    ]
    assert "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" in schemas
    assert "io.k8s.api.core.v1.PodList" in schemas


@pytest.mark.parametrize("gv", sorted(openapi.openapi_v3_root()["paths"]))
def test_every_ref_resolves_within_its_document(gv: str) -> None:
    doc = openapi.openapi_v3_document(gv)
    assert doc is not None
    schemas = doc["components"]["schemas"]
    for ref in _refs(schemas):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in schemas, f"{gv}: {ref} dangles"


def test_list_types_and_patch_strategies_for_apply_and_strategic_merge() -> None:
    doc = openapi.openapi_v3_document("api/v1")
    assert doc is not None
    schemas = doc["components"]["schemas"]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    args = schemas["io.k8s.api.core.v1.Container"]["properties"]["args"]
    assert args["x-kubernetes-list-type"] == "atomic"
    finalizers = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"][
        "finalizers"
    ]
    assert finalizers["x-kubernetes-list-type"] == "set"
    apps = openapi.openapi_v3_document("apis/apps/v1")
    assert apps is not None
    strategy = apps["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"][
        "strategy"
    ]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"


def test_schemas_are_in_openapi_form_not_the_json_schema_rendering() -> None:
    body = openapi.openapi_v3_document_json("api/v1")
    assert body is not None
    assert b'"null"' not in body  # optional fields are not typed [T, "null"]
    assert b"#/$defs/" not in body
    doc = json.loads(body)
    schemas = doc["components"]["schemas"]
    assert "enum" not in schemas["io.k8s.api.core.v1.Pod"]["properties"]["apiVersion"]
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "description": schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["description"],
        "format": "int-or-string",
        "type": "string",
    }
    assert schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"] == "string"


def test_only_what_the_served_kinds_reach_is_kept() -> None:
    v2 = openapi.openapi_v2_document()
    names = set(v2["definitions"])
    assert "io.k8s.api.core.v1.Pod" in names
    # Not served by kubelab, nor reached from a served kind.
    assert "io.k8s.api.admissionregistration.v1.ValidatingAdmissionPolicy" not in names
    assert "io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration" in names  # served
    assert "io.k8s.api.resource.v1.ResourceClaim" not in names
    # A group-version document holds its own kinds' closure, not every served one.
    batch = openapi.openapi_v3_document("apis/batch/v1")
    assert batch is not None
    assert "io.k8s.api.batch.v1.Job" in batch["components"]["schemas"]
    assert "io.k8s.api.apps.v1.Deployment" not in batch["components"]["schemas"]


def test_v2_document_is_swagger_with_paths_and_definitions() -> None:
    v2 = openapi.openapi_v2_document()
    assert v2["swagger"] == "2.0"
    pod = v2["definitions"]["io.k8s.api.core.v1.Pod"]
    assert pod["properties"]["spec"]["$ref"] == "#/definitions/io.k8s.api.core.v1.PodSpec"
    for ref in _refs(v2["definitions"]):
        assert ref.rsplit("/", 1)[1] in v2["definitions"], ref
    patch = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    params = {p["name"]: p for p in patch["parameters"]}
    assert params["fieldValidation"]["type"] == "string"  # swagger 2.0: no "schema"
    assert "schema" not in params["fieldValidation"]


@pytest.mark.parametrize(
    ("accept", "json_ok", "protobuf"),
    [
        ("", True, False),
        ("application/json", True, False),
        ("application/json, */*", True, False),
        # What client-go sends: answered with the skeleton document.
        (openapi.OPENAPI_V2_PROTOBUF, False, True),
        (f"{openapi.OPENAPI_V2_PROTOBUF};q=1.0", False, True),
        (openapi.OPENAPI_V2_PROTOBUF_REPLY, False, True),
        ("application/yaml", False, False),  # answered 406
    ],
)
def test_v2_forms_by_accept(accept: str, json_ok: bool, protobuf: bool) -> None:
    assert openapi.v2_accepts_json(accept) is json_ok
    assert openapi.v2_accepts_protobuf(accept) is protobuf


def test_the_v2_protobuf_skeleton_is_a_document_with_only_its_swagger_field() -> None:
    # One key byte (field number << 3 | wire type 2), one length byte, the string; the real
    # kubectl decodes it in tests/compat/test_kubectl_explain.py and test_kubectl_crd.py.
    data = openapi.V2_PROTOBUF_SKELETON
    assert (data[0] >> 3, data[0] & 7) == (1, 2)
    assert data[2 : 2 + data[1]] == b"2.0" and 2 + data[1] == len(data)


def test_schema_name_of_a_built_in_kind() -> None:
    deploy = next(r for r in RESOURCES if r.kind == "Deployment")
    assert openapi_schemas.schema_name_of(deploy) == "io.k8s.api.apps.v1.Deployment"
