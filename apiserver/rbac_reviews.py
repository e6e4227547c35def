"""The review APIs: ask the authenticator and the authorizer, store nothing.

- ``authentication.k8s.io/v1`` TokenReview (who is this token) and SelfSubjectReview
  (who am I: ``kubectl auth whoami``);
- ``authorization.k8s.io/v1`` SubjectAccessReview and LocalSubjectAccessReview (may this
  user do this), SelfSubjectAccessReview (may I: ``kubectl auth can-i``) and
  SelfSubjectRulesReview (what may I do in this namespace: ``kubectl auth can-i --list``).

Each is a create-only kind: the answer is the posted object with its ``status`` filled in
(201, as kube-apiserver answers). Access reviews consult what requests are checked
against: the system:masters group and RBAC; the Node authorizer depends on the request
itself (which pod, which body) and is not asked.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError
from api.rbac_rules import Request as RbacRequest
from api.rbac_rules import Rule
from apiserver.auth import ADMIN_GROUP, User
from apiserver.bodies import decode_body, json_response
from apiserver.paths import Target
from apiserver.sa_tokens import API_AUDIENCE, looks_like_jwt

AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"
REVIEW_GROUPS = frozenset({AUTHENTICATION, AUTHORIZATION})

Obj = dict[str, Any]

_RESOURCE_KEYS = {
    "namespace",
    "verb",
    "group",
    "version",
    "resource",
    "subresource",
    "name",
    "fieldSelector",
    "labelSelector",
}
_SPEC_KEYS = {
    "SelfSubjectAccessReview": {"resourceAttributes", "nonResourceAttributes"},
    "SubjectAccessReview": {
        "resourceAttributes",
        "nonResourceAttributes",
        "user",
        "groups",
        "uid",
        "extra",
    },  # fmt: skip
    "SelfSubjectRulesReview": {"namespace"},
    "TokenReview": {"token", "audiences"},
    "SelfSubjectReview": set(),
}
_SPEC_KEYS["LocalSubjectAccessReview"] = _SPEC_KEYS["SubjectAccessReview"]


def _bad(kind: str, field: str, why: str) -> ApiError:
    return ApiError(400, f"{kind} is invalid: {field}: {why}", "BadRequest")


def _check_keys(kind: str, where: str, d: Any, allowed: set[str]) -> Obj:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise _bad(kind, where, "must be an object")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise _bad(
            kind,
            f"{where}.{unknown[0]}",
            f"unknown field; {where} has: {', '.join(sorted(allowed)) or 'no fields'}",
        )
    return d


def _access_request(kind: str, spec: Obj, namespace: str | None) -> RbacRequest:
    """The attributes a SubjectAccessReview spec asks about (exactly one kind of them)."""
    ra = _check_keys(
        kind, "spec.resourceAttributes", spec.get("resourceAttributes"), _RESOURCE_KEYS
    )
    nra = _check_keys(kind, "spec.nonResourceAttributes", spec.get("nonResourceAttributes"),
                      {"path", "verb"})  # fmt: skip
    if bool(ra) == bool(nra):
        raise _bad(
            kind,
            "spec",
            "exactly one of nonResourceAttributes or resourceAttributes must be specified",
        )
    if nra:
        return RbacRequest(str(nra.get("verb") or ""), path=str(nra.get("path") or ""),
                           resource_request=False)  # fmt: skip
    ns = str(ra.get("namespace") or "")
    if namespace is not None:  # a LocalSubjectAccessReview: the URL's namespace decides
        if ns and ns != namespace:
            raise _bad(kind, "spec.resourceAttributes.namespace",
                       f"must match metadata.namespace ({namespace}) or be empty")  # fmt: skip
        ns = namespace
    return RbacRequest(
        str(ra.get("verb") or ""),
        str(ra.get("group") or ""),
        str(ra.get("resource") or ""),
        str(ra.get("subresource") or ""),
        str(ra.get("name") or ""),
        ns,
    )


def _rules_status(rules: tuple[Rule, ...]) -> Obj:
    resource_rules: list[Obj] = []
    non_resource: list[Obj] = []
    for r in rules:
        if r.non_resource_urls:
            non_resource.append(
                {"verbs": sorted(r.verbs), "nonResourceURLs": sorted(r.non_resource_urls)}
            )
            continue
        entry: Obj = {
            "verbs": sorted(r.verbs),
            "apiGroups": sorted(r.api_groups),
            "resources": sorted(r.resources),
        }
        if r.resource_names:
            entry["resourceNames"] = sorted(r.resource_names)
        resource_rules.append(entry)
    return {"resourceRules": resource_rules, "nonResourceRules": non_resource, "incomplete": False}


class Reviews:
    """Answers the review kinds for the authenticator and authorizer of one apiserver."""

    def __init__(self, authn: Any, authz: Any, read_body: Any) -> None:
        self.authn = authn
        self.authz = authz
        self.read_body = read_body

    async def handle(self, request: Request, target: Target, user: User) -> Response:
        info = target.info
        if request.method != "POST" or target.name or target.subresource:
            raise ApiError(
                405,
                f"{info.plural}.{info.group} can only be created (POST to the collection): "
                "a review is answered at once and not stored",
                "MethodNotAllowed",
            )
        body = decode_body(await self.read_body(request), request.headers.get("content-type", ""))
        if not isinstance(body, dict):
            raise ApiError(400, "the body must be a JSON object", "BadRequest")
        if body.get("kind") not in (None, info.kind) or body.get("apiVersion") not in (
            None,
            info.api_version,
        ):
            raise ApiError(
                400,
                f"the body is a {body.get('apiVersion')} {body.get('kind')}, but the URL is "
                f"for {info.api_version} {info.kind}",
                "BadRequest",
            )
        spec = _check_keys(info.kind, "spec", body.get("spec"), _SPEC_KEYS[info.kind])
        status = self._status(info.kind, spec, user, target.namespace)
        given = body.get("metadata")
        meta: Obj = dict(given) if isinstance(given, dict) else {}
        if info.namespaced:
            meta = {**meta, "namespace": target.namespace}
        out: Obj = {"kind": info.kind, "apiVersion": info.api_version,
                    "metadata": {**meta, "creationTimestamp": None}}  # fmt: skip
        if info.kind != "SelfSubjectReview":
            out["spec"] = spec
        out["status"] = status
        return json_response(out, status=201)

    def _status(self, kind: str, spec: Obj, user: User, namespace: str | None) -> Obj:
        from apiserver.authz import effective_groups

        if kind == "SelfSubjectReview":
            return {"userInfo": _user_info(user)}
        if kind == "TokenReview":
            return self._token_review(spec)
        if kind == "SelfSubjectRulesReview":
            ns = spec.get("namespace")
            if not ns or not isinstance(ns, str):
                raise _bad(kind, "spec.namespace", "Required value: name the namespace to list")
            return _rules_status(self.authz.index.rules_for(user.name, effective_groups(user), ns))
        if kind == "SelfSubjectAccessReview":
            subject = User(user.name, user.uid, effective_groups(user))
        else:
            groups = spec.get("groups") or []
            if not spec.get("user") and not groups:
                raise _bad(kind, "spec.user", "at least one of user or group must be specified")
            subject = User(str(spec.get("user") or ""), str(spec.get("uid") or ""),
                           tuple(str(g) for g in groups))  # fmt: skip
        req = _access_request(kind, spec, namespace if kind == "LocalSubjectAccessReview" else None)
        return self._decide(subject, req)

    def _decide(self, subject: User, req: RbacRequest) -> Obj:
        if ADMIN_GROUP in subject.groups:
            return {"allowed": True, "reason": f'allowed by the group "{ADMIN_GROUP}"'}
        index = self.authz.index
        b = index.allowing_binding(subject.name, subject.groups, req)
        if b is None:
            return {"allowed": False}
        what = "RoleBinding" if b.namespace else "ClusterRoleBinding"
        name = f"{b.name}/{b.namespace}" if b.namespace else b.name
        who = f'User "{subject.name}"' if subject.name in b.subjects.users else "a group"
        return {
            "allowed": True,
            "reason": f'RBAC: allowed by {what} "{name}" of {b.role_kind} "{b.role_name}" to {who}',
        }

    def _token_review(self, spec: Obj) -> Obj:
        token = spec.get("token")
        if not isinstance(token, str) or not token:
            raise _bad("TokenReview", "spec.token", "Required value: the token to review")
        wanted = spec.get("audiences") or [API_AUDIENCE]
        if not isinstance(wanted, list) or not all(isinstance(a, str) for a in wanted):
            raise _bad("TokenReview", "spec.audiences", "must be a list of strings")
        try:
            if looks_like_jwt(token) and self.authn.bound is not None:
                # A ServiceAccount token: valid for the audiences it was issued for.
                found = self.authn.bound_user(token, tuple(wanted))
                got = self.authn.bound.signer.verify(token, tuple(wanted)).audiences
                audiences = [a for a in wanted if a in got]
            elif API_AUDIENCE not in wanted:
                # The static file's tokens are for this API only, as kube-apiserver's.
                raise ApiError(401, "the token is not valid for the audiences asked for")
            else:
                found = self.authn.authenticate(f"Bearer {token}")
                audiences = [API_AUDIENCE]
        except ApiError as exc:
            return {"authenticated": False, "user": {}, "error": exc.message}
        return {"authenticated": True, "user": _user_info(found), "audiences": audiences}


def _user_info(user: User) -> Obj:
    from apiserver.authz import effective_groups

    info: Obj = {"username": user.name, "groups": list(effective_groups(user))}
    if user.uid:
        info["uid"] = user.uid
    return info
