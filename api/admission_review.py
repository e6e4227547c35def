"""admission.k8s.io/v1 AdmissionReview: the request an admission webhook is sent, and
what its response means (allowed, a denial in Kubernetes' words, a JSON patch).

Pure: apiserver/admission_webhooks.py does the HTTPS call.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from api.errors import ApiError
from api.patch import PatchError, json_patch
from api.webhook_match import Match, Request

Obj = dict[str, Any]
API_VERSION = "admission.k8s.io/v1"
_OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


class WebhookCallError(Exception):
    """The webhook could not be asked, or answered nonsense: failurePolicy decides."""


@dataclass
class Verdict:
    """A webhook's answer, read."""

    allowed: bool
    code: int = 0
    message: str = ""
    reason: str = ""
    patch: list[Any] | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()


def _converted(obj: Obj | None, group: str, version: str) -> Obj | None:
    """The object as the matched version (conversion None: only apiVersion changes)."""
    if obj is None:
        return None
    api_version = f"{group}/{version}" if group else version
    if obj.get("apiVersion") == api_version:
        return obj
    return {**obj, "apiVersion": api_version}


def review_request(
    uid: str,
    m: Match,
    req: Request,
    obj: Obj | None,
    old: Obj | None,
    user: User | None,
    dry_run: bool,
) -> Obj:
    """The AdmissionReview a webhook is sent, its kind and resource in the matched version
    and requestKind/requestResource as the client sent them (matchPolicy Equivalent)."""
    if req.kind_api_version:
        group, _, version = req.kind_api_version.rpartition("/")
        kind = {"group": group, "version": version, "kind": req.kind}
        request_kind = kind
    else:
        kind = {"group": m.group, "version": m.version, "kind": req.kind}
        request_kind = {"group": req.group, "version": req.version, "kind": req.kind}
        obj, old = _converted(obj, m.group, m.version), _converted(old, m.group, m.version)
    body: Obj = {
        "uid": uid,
        "kind": kind,
        "resource": {"group": m.group, "version": m.version, "resource": req.resource},
        "requestKind": request_kind,
        "requestResource": {"group": req.group, "version": req.version, "resource": req.resource},
        "name": req.name,
        "operation": req.operation,
        "userInfo": {
            "username": user.name if user else "",
            "uid": user.uid if user else "",
            "groups": list(user.groups) if user else [],
        },
        "object": obj,
        "oldObject": old,
        "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": _OPTIONS_KIND[req.operation]},
    }
    if req.subresource:
        body["subResource"] = body["requestSubResource"] = req.subresource
    if req.namespace and not req.is_namespace:
        body["namespace"] = req.namespace
    elif req.is_namespace:
        body["namespace"] = req.name
    return {"apiVersion": API_VERSION, "kind": "AdmissionReview", "request": body}


def read_response(raw: bytes, uid: str, mutating: bool) -> Verdict:
    """Read a webhook's reply; WebhookCallError for one Kubernetes would not accept."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise WebhookCallError(f"received invalid webhook response: {e}") from None
    if not isinstance(doc, dict):
        raise WebhookCallError("received invalid webhook response: not a JSON object")
    if doc.get("kind") != "AdmissionReview":
        raise WebhookCallError(
            f"expected webhook response of {API_VERSION}, Kind=AdmissionReview, got "
            f"{doc.get('apiVersion')}, Kind={doc.get('kind')}"
        )
    if doc.get("apiVersion") != API_VERSION:
        raise WebhookCallError(
            f"expected webhook response of {API_VERSION}, Kind=AdmissionReview, got "
            f"{doc.get('apiVersion')}, Kind=AdmissionReview"
        )
    resp = doc.get("response")
    if not isinstance(resp, dict):
        raise WebhookCallError("webhook response was absent")
    if resp.get("uid") != uid:
        raise WebhookCallError(f"expected response.uid={uid!r}, got {resp.get('uid')!r}")
    raw_status = resp.get("status")
    status: Obj = raw_status if isinstance(raw_status, dict) else {}
    warnings = [str(w) for w in resp.get("warnings") or [] if isinstance(w, str)]
    verdict = Verdict(
        allowed=resp.get("allowed") is True,
        code=int(status.get("code") or 0) if isinstance(status.get("code"), int) else 0,
        message=str(status.get("message") or ""),
        reason=str(status.get("reason") or ""),
        warnings=warnings,
    )
    patch = resp.get("patch")
    if mutating and verdict.allowed and patch:
        ptype = resp.get("patchType")
        if ptype != "JSONPatch":
            raise WebhookCallError(f'unsupported patch type "{ptype}": only JSONPatch is')
        try:
            ops = orjson.loads(base64.b64decode(patch))
        except (binascii.Error, ValueError) as e:
            raise WebhookCallError(f"received undecodable patch in webhook response: {e}") from None
        if not isinstance(ops, list):
            raise WebhookCallError("the patch in the webhook response is not a JSON patch list")
        verdict.patch = ops
    return verdict


def denial(webhook: str, verdict: Verdict) -> ApiError:
    """The error a denied request is answered with, as Kubernetes' ToStatusErr words it:
    the webhook's code (403 when it gave none) and its message after the webhook's name."""
    denied_by = f'admission webhook "{webhook}" denied the request'
    message = (
        f"{denied_by}: {verdict.message}" if verdict.message else f"{denied_by} without explanation"
    )
    code = verdict.code if verdict.code >= 400 else 403
    return ApiError(code, message, verdict.reason)


def call_failure(webhook: str, why: str) -> ApiError:
    """failurePolicy Fail: the 500 Kubernetes answers a webhook it could not call with."""
    return ApiError(500, f'Internal error occurred: failed calling webhook "{webhook}": {why}')


def apply_patch(obj: Obj, ops: list[Any], webhook: str) -> Obj:
    """The object after a mutating webhook's JSON patch (RFC 6902, the same implementation
    PATCH requests use); a patch that does not apply is the webhook's fault (500)."""
    try:
        return json_patch(obj, ops)
    except PatchError as e:
        raise ApiError(
            500,
            f'Internal error occurred: failed calling webhook "{webhook}": '
            f"the patch in the webhook response does not apply: {e}",
        ) from None
