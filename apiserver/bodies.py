"""Decode request bodies (JSON, YAML, protobuf) and encode responses and Status errors."""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from starlette.responses import Response

from api.errors import ApiError

MAX_BODY = 3 * 1024 * 1024  # the limit kube-apiserver applies to a request body
MAX_DEPTH = 100


def too_large(size: int) -> ApiError:
    return ApiError(
        413,
        f"the request body is {size} bytes, over the 3 MiB limit: split the object, or keep "
        "large data out of the API (a volume or an image)",
        "RequestEntityTooLarge",
    )


def _depth(obj: Any, limit: int = MAX_DEPTH) -> int:
    stack: list[tuple[Any, int]] = [(obj, 1)]
    deepest = 0
    while stack:
        cur, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(cur, dict):
            stack.extend((v, d + 1) for v in cur.values())
        elif isinstance(cur, list):
            stack.extend((v, d + 1) for v in cur)
    return deepest


def decode_body(raw: bytes, content_type: str) -> Any:
    """Parse a request body by its Content-Type; 400/415 with a readable message if not."""
    ct = content_type.split(";")[0].strip().lower()
    if not raw.strip():
        raise ApiError(
            400, "the request body is empty: send the object as JSON or YAML", "BadRequest"
        )
    is_yaml = False
    if ct == "application/vnd.kubernetes.protobuf":
        from apiserver.protobuf import decode_protobuf

        try:
            return decode_protobuf(raw)
        except ValueError as exc:
            raise ApiError(
                415,
                f"cannot decode this protobuf body ({exc}); send JSON instead "
                "(kubectl: add -o yaml --dry-run=client and pipe to kubectl apply -f -)",
                "UnsupportedMediaType",
            ) from exc
    if ct in (
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "application/apply-patch+yaml",
    ):
        obj = _yaml(raw)
        is_yaml = True
    elif ct in ("", "application/json", "text/plain", "application/octet-stream") or ct.endswith(
        "+json"
    ):
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if ct in ("", "text/plain", "application/octet-stream"):
                obj = _yaml(raw)
                is_yaml = True
            else:
                raise ApiError(
                    400,
                    f"the request body is not valid JSON: {exc}; check the syntax (a YAML body "
                    "needs Content-Type: application/yaml)",
                    "BadRequest",
                ) from exc
    else:
        raise ApiError(
            415,
            f'unsupported Content-Type "{content_type}": send application/json or application/yaml',
            "UnsupportedMediaType",
        )
    # JSON nests at most one level per opening bracket: most bodies need no walk at all.
    few = not is_yaml and raw.count(b"{") + raw.count(b"[") < MAX_DEPTH
    if not few and _depth(obj) > MAX_DEPTH:
        raise ApiError(400, f"the body is nested deeper than {MAX_DEPTH} levels", "BadRequest")
    return obj


def _yaml(raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw)
    except RecursionError as exc:  # flow-style nesting ([[[[...) deeper than the parser goes
        raise ApiError(
            400, f"the body is nested deeper than {MAX_DEPTH} levels", "BadRequest"
        ) from exc
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise ApiError(
            400, f"the request body is not valid YAML: {first}; check the indentation", "BadRequest"
        ) from exc


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(obj), status, headers, media_type="application/json")


def raw_json_response(
    data: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(data, status, headers, media_type="application/json")


def status_bytes(status: dict[str, Any]) -> bytes:
    """A ``Status`` body as kube-apiserver writes it: Go's JSON encoder, keys in the
    struct's order (the dict's), and a trailing newline; clients may compare it byte for
    byte."""
    return orjson.dumps(status) + b"\n"


def status_response(err: ApiError) -> Response:
    """The reply for every failed request (4xx, 5xx): the error's ``Status``."""
    headers = {}
    if err.retry_after_seconds is not None:
        headers["Retry-After"] = str(err.retry_after_seconds)
    return raw_json_response(status_bytes(err.to_status()), err.code, headers)


def success_status(
    kind: str, name: str, group: str = "", uid: str = "", code: int | None = 200
) -> dict[str, Any]:
    """A ``Status`` of success about one object (``kind`` is its resource, as Kubernetes
    fills it); ``code`` None leaves the code out, as the generic registry's DELETE does."""
    details: dict[str, Any] = {"name": name}
    if group:
        details["group"] = group
    details["kind"] = kind
    if uid:
        details["uid"] = uid
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }
    if code is not None:
        status["code"] = code
    return status
