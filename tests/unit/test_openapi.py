"""OpenAPI documents: what kubectl's validation and apply paths look for (API-COMPAT §3)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from api.registry import RESOURCES
from apiserver import openapi


def _patch_ops(doc: dict) -> list[tuple[str, dict]]:
    return [(p, item["patch"]) for p, item in doc["paths"].items() if "patch" in item]


def test_root_lists_every_group_version_with_a_hashed_url() -> None:
    root = openapi.openapi_v3_root()
    assert set(root["paths"]) == {
        "api/v1",
        "apis/apps/v1",
        "apis/batch/v1",
        "apis/autoscaling/v2",
        "apis/coordination.k8s.io/v1",
        "apis/discovery.k8s.io/v1",
        "apis/rbac.authorization.k8s.io/v1",
        "apis/authentication.k8s.io/v1",
        "apis/authorization.k8s.io/v1",
        "apis/metrics.k8s.io/v1beta1",
        "apis/custom.metrics.k8s.io/v1beta2",
        "apis/policy/v1",
        "apis/scheduling.k8s.io/v1",
        "apis/scheduling.kubelab.io/v1",
        "apis/storage.k8s.io/v1",
        "apis/networking.k8s.io/v1",
        "apis/certificates.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/admissionregistration.k8s.io/v1",
    }
    for gv, entry in root["paths"].items():
        url = urlparse(entry["serverRelativeURL"])
        assert url.path == f"/openapi/v3/{gv}"
        (h,) = parse_qs(url.query)["hash"]
        assert len(h) == 128


def test_hash_differs_between_documents() -> None:
    urls = [e["serverRelativeURL"] for e in openapi.openapi_v3_root()["paths"].values()]
    assert len({u.split("hash=")[1] for u in urls}) == len(urls)


@pytest.mark.parametrize("r", [r for r in RESOURCES if "patch" in r.verbs], ids=lambda r: r.kind)
def test_every_kind_has_a_patch_operation_with_gvk_and_field_validation(r) -> None:
    gv = f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"
    doc = openapi.openapi_v3_document(gv)
    assert doc is not None and doc["openapi"].startswith("3.")
    want = {"group": r.group, "version": r.version, "kind": r.kind}
    matching = [op for _, op in _patch_ops(doc) if op["x-kubernetes-group-version-kind"] == want]
    assert matching, f"no PATCH operation for {want}"
    for op in matching:
        params = {(p["name"], p["in"]) for p in op["parameters"]}
        assert ("fieldValidation", "query") in params


def test_create_only_kinds_have_only_a_create_operation() -> None:
    doc = openapi.openapi_v3_document("apis/authorization.k8s.io/v1")
    assert doc is not None
    paths = doc["paths"]
    review = paths["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"]
    assert set(review) == {"parameters", "post"}
    assert "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/{name}" not in paths


def test_object_paths_follow_rest_layout() -> None:
    core = openapi.openapi_v3_document("api/v1")
    assert core is not None
    assert "/api/v1/namespaces/{namespace}/pods/{name}" in core["paths"]
    assert "/api/v1/nodes/{name}" in core["paths"]
    assert "/api/v1/pods" in core["paths"]  # all namespaces
    apps = openapi.openapi_v3_document("apis/apps/v1")
    assert apps is not None
    scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Scale"
    sts_scale = apps["paths"]["/apis/apps/v1/namespaces/{namespace}/statefulsets/{name}/scale"]
    assert sts_scale["put"]["x-kubernetes-group-version-kind"]["kind"] == "Scale"


def test_no_patch_operation_advertises_a_strategic_merge_request_body() -> None:
    # If one did, kubectl apply would build its SMP from our schemas, not its structs.
    for gv in openapi.openapi_v3_root()["paths"]:
        doc = openapi.openapi_v3_document(gv)
        assert doc is not None
        for _, op in _patch_ops(doc):
            assert "requestBody" not in op


def test_document_accepts_group_version_spellings() -> None:
    assert openapi.openapi_v3_document("apps/v1") == openapi.openapi_v3_document("apis/apps/v1")
    assert openapi.openapi_v3_document("v1") == openapi.openapi_v3_document("/api/v1")
    assert openapi.openapi_v3_document("/openapi/v3/apis/batch/v1") is not None
    assert openapi.openapi_v3_document("apis/networking.k8s.io/v2") is None
    assert openapi.openapi_v3_document("apis/apps/v2") is None


def test_document_is_a_fresh_copy() -> None:
    doc = openapi.openapi_v3_document("api/v1")
    assert doc is not None
    doc["paths"].clear()
    again = openapi.openapi_v3_document("api/v1")
    assert again is not None and again["paths"]


def test_quota_kinds_have_their_paths() -> None:
    core = openapi.openapi_v3_document("api/v1")
    assert core is not None
    status = core["paths"]["/api/v1/namespaces/{namespace}/resourcequotas/{name}/status"]
    assert status["put"]["x-kubernetes-group-version-kind"]["kind"] == "ResourceQuota"
    assert "/api/v1/namespaces/{namespace}/limitranges/{name}" in core["paths"]
