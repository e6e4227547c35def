"""Field ownership (api/fieldmanager.py) by the kind's schema (apiserver/openapi_schemas.py)
for every write, as kube-apiserver records it: PATCH ``application/apply-patch+yaml`` is
server-side apply (fieldManager required, 409 naming conflicts unless ``force=true``);
a create, PUT or any other PATCH records an Update entry for its manager (``fieldManager``,
else the User-Agent's first word, as kube-apiserver derives it)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from api import fieldmanager
from api.errors import ApiError, Cause, bad_request, invalid
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


# kube-apiserver's limit on a manager's name (ValidateFieldManager).
MAX_MANAGER_LENGTH = 128


def manager_of(field_manager: str | None, user_agent: str | None, kind: str = "") -> str:
    """The manager of a write: ``?fieldManager=`` when given (at most 128 printable
    characters), else the User-Agent up to its first ``/`` (``kubectl/v1.35.0 (linux/amd64)``
    is ``kubectl``; the Python client's ``OpenAPI-Generator/31.0.0/python`` is
    ``OpenAPI-Generator``), cut to 128 characters, as kube-apiserver names it."""
    if field_manager:
        problem = ""
        if len(field_manager) > MAX_MANAGER_LENGTH:
            problem = f"must be no more than {MAX_MANAGER_LENGTH} characters"
        elif not field_manager.isprintable():
            problem = "invalid characters"
        if problem:
            raise invalid(
                kind,
                "",
                [
                    Cause(
                        "fieldManager",
                        f"Invalid value: {field_manager!r}: {problem}: name the manager "
                        "with printable characters (kubectl: --field-manager)",
                    )
                ],
            )
        return field_manager
    return (user_agent or "").split("/", 1)[0][:MAX_MANAGER_LENGTH]


def record_update(
    info: ResourceInfo, old: Obj | None, new: Obj, manager: str, subresource: str = ""
) -> Obj:
    """``new`` with ``manager``'s Update entry for the fields this write set or changed
    (operation Update, in the request's version), taken from the managers that had them."""
    return fieldmanager.record_update(
        old,
        new,
        apply_schema(info),
        manager=manager,
        api_version=info.api_version,
        now=now_rfc3339(),
        subresource=subresource,
    )
