"""The ``scale`` subresource of a custom kind, at the paths its CRD names
(``specReplicasPath``, ``statusReplicasPath``, ``labelSelectorPath``)."""

from __future__ import annotations

import copy
from typing import Any

from starlette.responses import Response

from api.crd.definition import Scale
from api.errors import ApiError, Cause, bad_request, conflict, invalid, not_found
from api.patch import PatchError, UnsupportedPatchType, apply_patch
from apiserver.bodies import decode_body, json_response
from apiserver.objects import ObjectService, WriteOptions, store_key
from apiserver.paths import Target
from apiserver.webhook_writes import SubresourceView

Obj = dict[str, Any]


def _steps(path: str) -> list[str]:
    return [p for p in path.split(".") if p]


def read_path(obj: Obj, path: str) -> Any:
    cur: Any = obj
    for step in _steps(path):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(step)
    return cur


def write_path(obj: Obj, path: str, value: Any) -> None:
    steps = _steps(path)
    cur = obj
    for step in steps[:-1]:
        nxt = cur.get(step)
        if not isinstance(nxt, dict):
            nxt = cur[step] = {}
        cur = nxt
    cur[steps[-1]] = value


def scale_of(obj: Obj, scale: Scale) -> Obj:
    """The autoscaling/v1 Scale view of a custom object."""
    meta = obj.get("metadata") or {}
    status: Obj = {"replicas": int(read_path(obj, scale.status_replicas) or 0)}
    if scale.label_selector:
        selector = read_path(obj, scale.label_selector)
        if isinstance(selector, str):
            status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": int(read_path(obj, scale.spec_replicas) or 0)},
        "status": status,
    }


def _replicas(body: Any) -> int:
    replicas = (body.get("spec") or {}).get("replicas") if isinstance(body, dict) else None
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise invalid(
            "Scale", "", [Cause("spec.replicas", "Invalid value: must be a non-negative integer")]
        )
    return replicas


async def custom_scale(
    objects: ObjectService,
    scale: Scale,
    method: str,
    t: Target,
    ct: str,
    raw: bytes,
    opts: WriteOptions,
) -> Response:
    """GET, PUT or PATCH ``…/scale`` of a custom object."""
    info = t.info
    ns = (t.namespace or "default") if info.namespaced else ""
    if method == "GET":
        obj = objects.store.get(store_key(info), ns, t.name)
        if obj is None:
            raise not_found(info.plural, t.name, info.group)
        return json_response(scale_of(obj, scale))
    if method == "PUT":
        body = decode_body(raw, ct)
        replicas = _replicas(body)
        want_rv = (
            (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        )

        def apply(cur: Obj) -> Obj:
            if want_rv and want_rv != cur["metadata"].get("resourceVersion"):
                raise conflict(info.plural, t.name, info.group)
            out = copy.deepcopy(cur)
            write_path(out, scale.spec_replicas, replicas)
            return out
    elif method == "PATCH":
        patch_body = decode_body(raw, "application/json")

        def apply(cur: Obj) -> Obj:
            try:
                new_scale = apply_patch(scale_of(cur, scale), patch_body, ct, "Scale")
            except UnsupportedPatchType as exc:
                raise ApiError(415, str(exc), "UnsupportedMediaType") from exc
            except PatchError as exc:
                raise bad_request(f"the patch is malformed: {exc}") from exc
            out = copy.deepcopy(cur)
            write_path(out, scale.spec_replicas, _replicas(new_scale))
            return out
    else:
        raise ApiError(405, f"{method} is not allowed on scale", "MethodNotAllowed")

    def with_view(obj: Obj, view: Obj) -> Obj:
        out = copy.deepcopy(obj)
        write_path(out, scale.spec_replicas, _replicas(view))
        return out

    shown = SubresourceView(lambda obj: scale_of(obj, scale), with_view)
    out, _ = await objects.patch(
        info, t.name, ns or None, apply, opts, subresource="scale", view=shown
    )
    return json_response(scale_of(out, scale))
