"""OpenAPI documents, just enough for kubectl's validation and patch logic (API-COMPAT §3).

kubectl ``apply``/``create -f``/``replace`` download ``/openapi/v3`` and the
per-group-version document before sending anything. If, for the object's kind, the
document has a PATCH operation tagged with ``x-kubernetes-group-version-kind`` that
takes a ``fieldValidation`` query parameter, kubectl skips client-side schema checks
and sends ``fieldValidation=Strict``: the server validates.

No schemas are published on purpose. If a PATCH operation advertised a request
body of type ``application/strategic-merge-patch+json``, kubectl ``apply`` would
compute its strategic merge patch from our (incomplete) schemas instead of its
compiled-in Go structs, and lists such as ``containers`` would lose their merge
keys. Without a request body kubectl falls back to the v2 document (the stub
below, which describes no kind) and then to its compiled-in structs, which are
exactly the upstream types.
"""

from __future__ import annotations

import copy
import hashlib
import json
from functools import lru_cache
from typing import Any

from api.registry import ResourceInfo, all_resources, custom_generation


def _encode_string_field(field_number: int, value: bytes) -> bytes:
    """One length-delimited protobuf field (lengths here are all < 128)."""
    assert len(value) < 128
    return bytes([(field_number << 3) | 2, len(value)]) + value


# gnostic openapi_v2.Document{swagger: "2.0", info: Info{title: "Kubernetes", version: "v1"}}
# Document.swagger = 1, Document.info = 2; Info.title = 1, Info.version = 2.
OPENAPI_V2_STUB: bytes = _encode_string_field(1, b"2.0") + _encode_string_field(
    2, _encode_string_field(1, b"Kubernetes") + _encode_string_field(2, b"v1")
)
OPENAPI_V2_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


def _gv_path(r: ResourceInfo) -> str:
    """``api/v1`` or ``apis/apps/v1``: the key under ``/openapi/v3``."""
    return f"apis/{r.group}/{r.version}" if r.group else f"api/{r.version}"


# (group, version, kind) -> a custom kind's openAPIV3Schema, kept by apiserver/crds.py with
# the registry's overlay: published under components.schemas of its group-version.
custom_schemas: dict[tuple[str, str, str], dict[str, Any]] = {}


def schema_name(group: str, version: str, kind: str) -> str:
    """Kubernetes' definition name of a custom kind: the group reversed (``com.example``)."""
    return ".".join([*reversed(group.split(".")), version, kind])


def _by_gv_path() -> dict[str, list[ResourceInfo]]:
    out: dict[str, list[ResourceInfo]] = {}
    for r in all_resources():
        out.setdefault(_gv_path(r), []).append(r)
    return out


def _param(name: str, where: str, description: str, required: bool = False) -> dict[str, Any]:
    p: dict[str, Any] = {
        "name": name,
        "in": where,
        "description": description,
        "schema": {"type": "string", "uniqueItems": True},
    }
    if required:
        p["required"] = True
    return p


_NAME = _param("name", "path", "name of the object", required=True)
_NAMESPACE = _param("namespace", "path", "object name and auth scope", required=True)
_WRITE_PARAMS = [
    _param("dryRun", "query", "When present (All), the change is computed but not stored."),
    _param("fieldManager", "query", "A name for the actor making the change."),
    _param(
        "fieldValidation",
        "query",
        "Ignore, Warn or Strict: what the server does with unknown or duplicate fields.",
    ),
]
_OK = {"200": {"description": "OK"}}
_CREATED = {"200": {"description": "OK"}, "201": {"description": "Created"}}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "version": version, "kind": kind}


def _op(
    action: str, gvk: dict[str, str], op_id: str, params: list[dict[str, Any]], ok: dict[str, Any]
) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "parameters": params,
        "responses": ok,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": dict(gvk),
    }


def _paths_for(r: ResourceInfo) -> dict[str, Any]:
    """The REST paths of one kind with their operations."""
    prefix = f"/{_gv_path(r)}"
    scope = [_NAMESPACE] if r.namespaced else []
    base = (
        f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
    )
    gvk = _gvk(r.group, r.version, r.kind)
    verbs = set(r.verbs)
    paths: dict[str, Any] = {}

    collection: dict[str, Any] = {"parameters": list(scope)}
    if "list" in verbs:
        collection["get"] = _op("list", gvk, f"list{r.kind}", [], _OK)
    if "create" in verbs:
        collection["post"] = _op("post", gvk, f"create{r.kind}", list(_WRITE_PARAMS), _CREATED)
    if "deletecollection" in verbs:
        collection["delete"] = _op("deletecollection", gvk, f"deleteCollection{r.kind}", [], _OK)
    paths[base] = collection

    item: dict[str, Any] = {"parameters": [_NAME, *scope]}
    if "get" in verbs:
        item["get"] = _op("get", gvk, f"read{r.kind}", [], _OK)
    if "update" in verbs:
        item["put"] = _op("put", gvk, f"replace{r.kind}", list(_WRITE_PARAMS), _CREATED)
    if "patch" in verbs:
        item["patch"] = _op("patch", gvk, f"patch{r.kind}", list(_WRITE_PARAMS), _CREATED)
    if "delete" in verbs:
        item["delete"] = _op("delete", gvk, f"delete{r.kind}", [], _OK)
    if len(item) > 1:  # create-only kinds (the reviews) have no object paths
        paths[f"{base}/{{name}}"] = item

    if r.namespaced and "list" in verbs:
        paths[f"{prefix}/{r.plural}"] = {
            "get": _op("list", gvk, f"list{r.kind}ForAllNamespaces", [], _OK)
        }

    for sub in r.subresources:
        if sub == "status":
            sub_gvk = gvk
        elif sub == "scale":
            sub_gvk = _gvk("autoscaling", "v1", "Scale")
        else:
            continue  # binding, eviction, log...: not validated by kubectl, not listed
        title = sub.capitalize()
        paths[f"{base}/{{name}}/{sub}"] = {
            "parameters": [_NAME, *scope],
            "get": _op("get", sub_gvk, f"read{r.kind}{title}", [], _OK),
            "put": _op("put", sub_gvk, f"replace{r.kind}{title}", list(_WRITE_PARAMS), _CREATED),
            "patch": _op("patch", sub_gvk, f"patch{r.kind}{title}", list(_WRITE_PARAMS), _CREATED),
        }
    return paths


def _normalise(group_version: str) -> str | None:
    """Accept ``api/v1``, ``/openapi/v3/apis/apps/v1``, ``v1`` or ``apps/v1``."""
    gv = group_version.strip("/")
    if gv.startswith("openapi/v3/"):
        gv = gv[len("openapi/v3/") :]
    known = _by_gv_path()
    if gv in known:
        return gv
    candidate = f"api/{gv}" if "/" not in gv else f"apis/{gv}"
    return candidate if candidate in known else None


def _document(gv_path: str) -> dict[str, Any]:
    return _document_at(gv_path, custom_generation())


@lru_cache(maxsize=512)
def _document_at(gv_path: str, _generation: int) -> dict[str, Any]:
    """The document as of one state of the custom kinds (``_generation``: the cache key)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for r in _by_gv_path()[gv_path]:
        paths.update(_paths_for(r))
        schema = custom_schemas.get((r.group, r.version, r.kind)) if r.custom else None
        if schema is not None:
            schemas[schema_name(r.group, r.version, r.kind)] = {
                **schema,
                "x-kubernetes-group-version-kind": [_gvk(r.group, r.version, r.kind)],
            }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0+kubelab"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _hash(gv_path: str) -> str:
    return _hash_at(gv_path, custom_generation())


@lru_cache(maxsize=512)
def _hash_at(gv_path: str, generation: int) -> str:
    """Content hash used in ``serverRelativeURL`` so clients cache per version of the doc."""
    body = json.dumps(
        _document_at(gv_path, generation), sort_keys=True, separators=(",", ":")
    ).encode()
    return hashlib.sha512(body).hexdigest().upper()


def openapi_v3_root() -> dict[str, Any]:
    """The ``/openapi/v3`` body: one entry per group-version we serve."""
    return {
        "paths": {
            gv: {"serverRelativeURL": f"/openapi/v3/{gv}?hash={_hash(gv)}"} for gv in _by_gv_path()
        }
    }


def openapi_v3_document(group_version: str) -> dict[str, Any] | None:
    """The ``/openapi/v3/<gv>`` body (``gv`` as ``api/v1`` or ``apis/apps/v1``), None if unknown."""
    gv = _normalise(group_version)
    if gv is None:
        return None
    return copy.deepcopy(_document(gv))
