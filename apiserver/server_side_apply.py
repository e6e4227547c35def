"""PATCH ``application/apply-patch+yaml``: server-side apply with field ownership
(api/fieldmanager.py) by the kind's schema (apiserver/openapi_schemas.py), answered as
kube-apiserver does: fieldManager required, 409 naming conflicts unless ``force=true``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from api import fieldmanager
from api.errors import ApiError, Cause, bad_request
from api.registry import ResourceInfo
from apiserver.ids import now_rfc3339
from apiserver.openapi_schemas import apply_schema

Obj = dict[str, Any]


def _conflict(exc: fieldmanager.ApplyConflict, info: ResourceInfo, name: str) -> ApiError:
    causes = [
        Cause(
            fieldmanager.path_string(c.path), f"conflict with {c.manager}", "FieldManagerConflict"
        )
        for c in exc.conflicts
    ]
    return ApiError(
        409, str(exc), "Conflict", name=name, kind=info.plural, group=info.group, causes=causes
    )


def apply_functions(
    info: ResourceInfo, name: str, body: Any, query: Mapping[str, str], subresource: str
) -> tuple[Callable[[Obj], Obj], Callable[[], Obj] | None]:
    """(patch function of the live object, creation of a missing one) for one apply."""
    if not isinstance(body, dict):
        raise bad_request("an apply patch must be an object")
    manager = query.get("fieldManager") or ""
    if not manager:
        raise bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set")
    force = (query.get("force") or "").lower() in ("true", "1")
    schema = apply_schema(info)

    def run(live: Obj | None) -> Obj:
        try:
            return fieldmanager.server_side_apply(
                live,
                body,
                schema,
                manager=manager,
                api_version=info.api_version,
                now=now_rfc3339(),
                force=force,
                subresource=subresource,
            )
        except fieldmanager.ApplyConflict as exc:
            raise _conflict(exc, info, name) from exc

    return run, (None if subresource else lambda: run(None))
