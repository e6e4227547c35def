"""OpenAPI documents: the paths kubectl's validation looks for, and the kinds' schemas.

kubectl ``apply``/``create -f``/``replace`` download ``/openapi/v3`` and the
per-group-version document before sending anything. If, for the object's kind, the
document has a PATCH operation tagged with ``x-kubernetes-group-version-kind`` that
takes a ``fieldValidation`` query parameter, kubectl skips client-side schema checks
and sends ``fieldValidation=Strict``: the server validates (as against any
kube-apiserver since 1.27).

``components.schemas`` carries Kubernetes' own definitions of the built-in kinds
(apiserver/openapi_schemas.py) and the CRDs' schemas (apiserver/crds.py), so that
``kubectl explain`` and editors read them. No PATCH operation advertises a request body:
with one of type ``application/strategic-merge-patch+json``, kubectl ``apply`` would build
its patch from these documents instead of its compiled-in Go structs, which are exactly
the upstream types already.

``/openapi/v2`` is the same in swagger 2.0 form, as JSON. kubectl asks for it in gnostic
protobuf only (for the patch metadata of ``apply`` and the v2 fallbacks of explain and
validation). That form is answered with a skeleton document, ``swagger: "2.0"`` and no
definitions (``V2_PROTOBUF_SKELETON``): kubectl then uses its compiled-in structs for
patches, and its client-side validation (the fallback for kinds without a PATCH
operation, such as SubjectAccessReview) skips a kind it finds no schema for, which the
server validates strictly anyway. A 406 made ``kubectl create -f`` of those kinds fail.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from api.registry import ResourceInfo, all_resources, custom_generation
from apiserver import openapi_schemas

# What client-go asks /openapi/v2 for; not served (the JSON form is): see the docstring.
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# gnostic's openapi_v2.Document with only field 1 (``swagger``, a string) set to "2.0":
# the tag byte (field 1, length-delimited), the length, the bytes. Hand-encoded: it is one
# field, and no maintained Python package ships gnostic's message types.
V2_PROTOBUF_SKELETON = b"\x0a\x03" + b"2.0"
# The type it is answered with: kube-openapi's, without the "@" that Go's MIME parser
# (client-go reads the Content-Type) refuses.
OPENAPI_V2_PROTOBUF_REPLY = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


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
    schemas: dict[str, Any] = openapi_schemas.v3_schemas(_by_gv_path()[gv_path])
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
    return json.loads(_document_json_at(gv, custom_generation()))


def openapi_v3_document_json(group_version: str) -> bytes | None:
    """The same document serialised (cached: kubectl fetches it before every apply)."""
    gv = _normalise(group_version)
    return None if gv is None else _document_json_at(gv, custom_generation())


@lru_cache(maxsize=32)
def _document_json_at(gv_path: str, generation: int) -> bytes:
    return json.dumps(_document_at(gv_path, generation), separators=(",", ":")).encode()


def _v2_parameter(p: dict[str, Any]) -> dict[str, Any]:
    """A v3 parameter in swagger 2.0 form (the type inline, not under ``schema``)."""
    out = {k: v for k, v in p.items() if k != "schema"}
    out.update(p.get("schema", {}))
    return out


def _v2_paths(paths: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, item in paths.items():
        out[path] = {}
        for key, value in item.items():
            if key == "parameters":
                out[path][key] = [_v2_parameter(p) for p in value]
            else:
                op = dict(value)
                op["parameters"] = [_v2_parameter(p) for p in value.get("parameters", [])]
                out[path][key] = op
    return out


def openapi_v2_document() -> dict[str, Any]:
    """The ``/openapi/v2`` body: every served path and definition in swagger 2.0 form."""
    return json.loads(openapi_v2_json())


def openapi_v2_json() -> bytes:
    return _v2_json_at(custom_generation())


@lru_cache(maxsize=4)
def _v2_json_at(generation: int) -> bytes:
    paths: dict[str, Any] = {}
    definitions = openapi_schemas.v2_definitions()
    for gv in _by_gv_path():
        doc = _document_at(gv, generation)
        paths.update(_v2_paths(doc["paths"]))
        # CRDs' schemas are published as their authors wrote them (structural, no refs).
        for name, schema in doc["components"]["schemas"].items():
            definitions.setdefault(name, schema)
    body = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": "v1.35.0+kubelab"},
        "paths": paths,
        "definitions": definitions,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def v2_accepts_protobuf(accept: str) -> bool:
    """Whether an ``Accept`` header asks for the gnostic protobuf form (either spelling)."""
    ranges = [r.split(";")[0].strip().lower() for r in accept.split(",") if r.strip()]
    return any(r in (OPENAPI_V2_PROTOBUF, OPENAPI_V2_PROTOBUF_REPLY) for r in ranges)


def v2_accepts_json(accept: str) -> bool:
    """Whether an ``Accept`` header takes the JSON form of ``/openapi/v2`` (the only one)."""
    ranges = [r.split(";")[0].strip().lower() for r in accept.split(",") if r.strip()]
    return not ranges or any(r in ("application/json", "application/*", "*/*") for r in ranges)
