"""Authorization: who may do what. Admins (group ``system:masters``) may do everything;
other identities are checked against the roles in the RBAC file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request

from api.errors import ApiError
from apiserver.auth import ADMIN_GROUP, User
from apiserver.paths import Target

_VERB_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_verb(request: Request, target: Target) -> str:
    """The Kubernetes verb of a request: get, list, watch, create, update, patch, delete."""
    if request.method == "GET":
        if request.query_params.get("watch") in ("true", "True", "1"):
            return "watch"
        return "get" if target.name else "list"
    if request.method == "DELETE" and not target.name:
        return "deletecollection"
    return _VERB_BY_METHOD.get(request.method, request.method.lower())


class Authorizer:
    def __init__(self, rbac_file: Path | None, store: Any) -> None:
        self.rbac_file = rbac_file
        self.store = store

    def authorize(self, user: User, request: Request, target: Target) -> None:
        if ADMIN_GROUP in user.groups:
            return
        verb = request_verb(request, target)
        res = target.info.plural + (f"/{target.subresource}" if target.subresource else "")
        raise ApiError(
            403,
            f'{res} is forbidden: User "{user.name}" cannot {verb} resource "{res}" in API group '
            f'"{target.info.group}"' + (f' in the namespace "{target.namespace}"' if target.namespace else "")
            + ": ask an admin for a role that allows it",
            "Forbidden",
        )
