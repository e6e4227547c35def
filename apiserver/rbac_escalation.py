"""Escalation prevention: nobody grants through RBAC what they do not hold themselves.

As in Kubernetes, a user may create or update a Role or ClusterRole only if they already
hold every permission it grants (where it grants them: a Role's namespace, everywhere for
a ClusterRole), or may ``escalate`` it; and may create or update a binding only if they
hold every permission of the role it names in the binding's namespace, or may ``bind``
that role. Only a user who may ``escalate`` ClusterRoles may set an ``aggregationRule``
(its rules come from other roles, so holding them cannot be checked).

The check runs inside the store's mutation (``ClusterState.write_checks``) on the object
exactly as it would be stored; the requesting user comes from :func:`acting_as`, set by
the app around each request. Writes made by the apiserver itself (bootstrap policy, the
RBAC file) run with no user and are not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from api.admission_review import User as ReviewUser
from api.errors import ApiError
from api.rbac_rules import (
    GROUP,
    Request,
    Rule,
    compact,
    compact_string,
    compile_rules,
    go_quote,
    uncovered,
)
from api.registry import ResourceInfo
from apiserver.auth import ADMIN_GROUP, User

Obj = dict[str, Any]

_acting: ContextVar[User | None] = ContextVar("rbac_acting_user", default=None)


@contextmanager
def acting_as(user: User | None) -> Iterator[None]:
    """Writes made inside are checked against ``user``'s permissions."""
    token = _acting.set(user)
    try:
        yield
    finally:
        _acting.reset(token)


def acting_review_user() -> ReviewUser | None:
    """The user the current write is made for, as an AdmissionReview names it."""
    user = _acting.get()
    if user is None:
        return None
    return ReviewUser(user.name, user.uid, tuple(user.groups))


def escalation_forbidden(info: ResourceInfo, name: str, user: User, groups: tuple[str, ...],
                         missing: list[Rule]) -> ApiError:  # fmt: skip
    """403 in Kubernetes' words (ConfirmNoEscalation), one missing permission a line."""
    lines = sorted(compact_string(r) for r in compact(missing))
    return ApiError(
        403,
        f'{info.plural}.{GROUP} "{name}" is forbidden: user "{user.name}" '
        f"(groups={go_quote(groups)}) is attempting to grant RBAC permissions not currently "
        "held:\n" + "\n".join(lines),
        "Forbidden",
        name=name,
        kind=info.plural,
        group=GROUP,
    )


class EscalationCheck:
    """The write check: refuses a Role, ClusterRole or binding that would escalate."""

    def __init__(self, authorizer: Any) -> None:
        self.authz = authorizer  # apiserver.authz.Authorizer
        self.index = authorizer.index

    def __call__(self, info: ResourceInfo, old: Obj | None, new: Obj | None) -> None:
        if new is None or info.group != GROUP:
            return
        user = _acting.get()
        if user is None or ADMIN_GROUP in user.groups:
            return
        meta = new.get("metadata") or {}
        name, ns = str(meta.get("name") or ""), str(meta.get("namespace") or "")
        if info.kind in ("Role", "ClusterRole"):
            self._check_role(info, user, name, ns, old, new)
        elif info.kind in ("RoleBinding", "ClusterRoleBinding"):
            self._check_binding(info, user, name, ns, new)

    def _may(self, user: User, verb: str, plural: str, name: str, ns: str) -> bool:
        return bool(self.authz.allows(user, Request(verb, GROUP, plural, "", name, ns)))

    def _refuse_missing(
        self, info: ResourceInfo, user: User, name: str, ns: str, wanted: tuple[Rule, ...]
    ) -> None:
        from apiserver.authz import effective_groups

        groups = effective_groups(user)
        missing = uncovered(self.index.rules_for(user.name, groups, ns), wanted)
        if missing:
            raise escalation_forbidden(info, name, user, groups, missing)

    def _check_role(
        self, info: ResourceInfo, user: User, name: str, ns: str, old: Obj | None, new: Obj
    ) -> None:
        if old is not None and all(old.get(k) == new.get(k) for k in ("rules", "aggregationRule")):
            return  # labels, annotations, finalizers: nothing is granted
        if self._may(user, "escalate", info.plural, name, ns):
            return
        if new.get("aggregationRule") is not None:
            raise ApiError(
                403,
                f'{info.plural}.{GROUP} "{name}" is forbidden: must have cluster-admin '
                "privileges to use the aggregationRule",
                "Forbidden",
                name=name,
                kind=info.plural,
                group=GROUP,
            )
        self._refuse_missing(info, user, name, ns, compile_rules(new.get("rules")))

    def _check_binding(self, info: ResourceInfo, user: User, name: str, ns: str, new: Obj) -> None:
        ref = new.get("roleRef") or {}
        role_kind, role_name = str(ref.get("kind") or ""), str(ref.get("name") or "")
        plural = "clusterroles" if role_kind == "ClusterRole" else "roles"
        if self._may(user, "bind", plural, role_name, ns):
            return
        rules = self.index.role_rules(role_kind, role_name, ns)
        if rules is None:
            raise ApiError(
                403,
                f'{info.plural}.{GROUP} "{name}" is forbidden: {plural}.{GROUP} "{role_name}" '
                "not found: create the role first, or ask for the bind verb on it",
                "Forbidden",
                name=name,
                kind=info.plural,
                group=GROUP,
            )
        self._refuse_missing(info, user, name, ns, rules)
