"""The apiserver's part of CertificateSigningRequests: a new request carries its
requester's identity (set here from the authenticated user, never from the body), and
the approval/status subresources each change only their part of the status
(``api.certificates.merge_status``). Signing is the csrsigning controller's."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from api.certificates import merge_status, stamp_requester
from api.registry import ResourceInfo

KIND = "CertificateSigningRequest"
SUBRESOURCES = ("status", "approval")


def stamp(info: ResourceInfo, body: Any, request: Request) -> None:
    """Before a create: the request's user becomes ``spec.username/uid/groups``."""
    if info.kind != KIND or not isinstance(body, dict):
        return
    user = request.scope.get("kubelab.user")
    if user is None:
        return
    stamp_requester(body, user.name, user.uid, list(user.groups))


def is_csr_subresource(info: ResourceInfo, sub: str) -> bool:
    return info.kind == KIND and sub == "approval"


def subresource_status(info: ResourceInfo, current: dict[str, Any], new: Any, sub: str) -> Any:
    """What a write to ``sub`` stores as the object's status."""
    if info.kind != KIND:
        return new
    return merge_status(current, new, sub)
