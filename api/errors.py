"""Kubernetes ``Status`` errors, shared by the apiserver (which raises them) and the client
(which turns Status bodies back into them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REASON_BY_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
    507: "InsufficientStorage",
}


@dataclass
class Cause:
    """One reason an object was refused: the field path and what is wrong with it."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def to_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class ApiError(Exception):
    """An API failure carrying everything a Kubernetes ``Status`` needs."""

    code: int
    message: str
    reason: str = ""
    name: str = ""
    kind: str = ""
    group: str = ""
    causes: list[Cause] = field(default_factory=list)
    retry_after_seconds: int | None = None

    def __post_init__(self) -> None:
        if not self.reason:
            self.reason = REASON_BY_CODE.get(self.code, "Unknown")
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    def to_status(self) -> dict[str, Any]:
        """The ``Status`` body for this error (details keys in StatusDetails' order:
        name, group, kind, causes, retryAfterSeconds)."""
        details: dict[str, Any] = {}
        if self.name:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_dict() for c in self.causes]
        if self.retry_after_seconds is not None:
            details["retryAfterSeconds"] = self.retry_after_seconds
        # Keys in the order of metav1.Status's Go fields, which is the order Kubernetes
        # writes them in: some clients compare a Status byte for byte.
        status: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if details:
            status["details"] = details
        status["code"] = self.code
        return status

    @classmethod
    def from_status(cls, body: Any, code: int) -> ApiError:
        """Rebuild an error from a Status body (or anything else a server answered)."""
        if isinstance(body, dict) and body.get("kind") == "Status":
            details = body.get("details") or {}
            causes = [
                Cause(c.get("field", ""), c.get("message", ""), c.get("reason", ""))
                for c in details.get("causes") or []
            ]
            return cls(
                code=int(body.get("code") or code),
                message=str(body.get("message") or ""),
                reason=str(body.get("reason") or ""),
                name=str(details.get("name") or ""),
                kind=str(details.get("kind") or ""),
                group=str(details.get("group") or ""),
                causes=causes,
            )
        text = body if isinstance(body, str) else repr(body)
        return cls(code=code, message=f"the server answered {code}: {text[:300]}")


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    what = f"{plural}.{group}" if group else plural
    return ApiError(404, f'{what} "{name}" not found', name=name, kind=plural, group=group)


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        409, f'{what} "{name}" already exists', "AlreadyExists", name=name, kind=plural, group=group
    )


def conflict(plural: str, name: str, group: str = "") -> ApiError:
    what = f"{plural}.{group}" if group else plural
    return ApiError(
        409,
        f'Operation cannot be fulfilled on {what} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        "Conflict",
        name=name,
        kind=plural,
        group=group,
    )


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> ApiError:
    """A 422 naming every bad field, the way kube-apiserver words it."""
    parts = "; ".join(f"{c.field}: {c.message}" if c.field else c.message for c in causes)
    n = f' "{name}"' if name else ""
    return ApiError(
        422,
        f"{kind}{n} is invalid: {parts}",
        "Invalid",
        name=name,
        kind=kind,
        group=group,
        causes=causes,
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, message, "BadRequest")
