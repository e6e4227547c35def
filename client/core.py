"""What the sync and async clients share: request building, TLS, response decoding and
error translation. No I/O happens here, so both clients stay thin wrappers around httpx.
"""

from __future__ import annotations

import errno
import os
import re
import ssl
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from api.errors import ApiError
from api.registry import ResourceInfo, lookup

if TYPE_CHECKING:
    import httpx

PATCH_CONTENT_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
FIELD_MANAGER = "kubelab"
USER_AGENT = "kubelab-client/0.1"
JSON = "application/json"

# Ordinary requests: fail in well under a minute. Watches and followed logs have no read
# timeout of their own (the server ends them), see ``stream_timeout``.
REQUEST_TIMEOUT_SECONDS = 60.0
CONNECT_TIMEOUT_SECONDS = 10.0  # a client's default (client.transport.Endpoint)


class ServerUnreachable(ConnectionError):
    """The API server could not be reached (refused, timed out, TLS failure, dropped)."""

    def __init__(self, server: str, detail: str) -> None:
        self.server = server
        self.detail = detail
        super().__init__(
            f"cannot reach the kubelab API at {server}: {detail} — is `kubelab up` running?"
        )


@dataclass
class RequestSpec:
    """One HTTP request, ready for httpx."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


def resolve(resource: str | ResourceInfo) -> ResourceInfo:
    """Turn anything ``api.registry.lookup`` understands into a ResourceInfo.

    An unknown name raises ``ApiError(404)`` worded like kubectl's message, so callers
    that already handle API errors need no second except clause.
    """
    if isinstance(resource, ResourceInfo):
        return resource
    info = lookup(resource)
    if info is None:
        raise ApiError(404, f'the server doesn\'t have a resource type "{resource}"', "NotFound")
    return info


def dumps(body: Any) -> bytes:
    """Serialise a request body (dicts, lists) to JSON bytes."""
    return orjson.dumps(body)


def ssl_context(
    ca_data: bytes | str | None = None, ca_file: str | None = None, verify: bool = True
) -> ssl.SSLContext | bool:
    """The TLS settings for httpx: trust exactly the given CA (PEM or DER, kept in memory),
    the system store when none is given, or nothing when ``verify`` is False."""
    if not verify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no CA store to load: none is used
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if isinstance(ca_data, bytes) and b"-----BEGIN" in ca_data:
        ca_data = ca_data.decode("ascii")
    # Given a CA, only that CA: create_default_context loads the system store (~20 ms,
    # and ~140 more CAs trusted) only when it is given none.
    return ssl.create_default_context(cafile=ca_file, cadata=ca_data)


def bool_param(value: bool) -> str:
    return "true" if value else "false"


def write_params(field_validation: str | None, dry_run: bool = False) -> dict[str, str]:
    """Query parameters of a write: ``fieldValidation`` (Strict | Warn | Ignore) when set,
    ``dryRun=All`` (the server checks and answers the result but stores nothing)."""
    params = {"fieldValidation": field_validation} if field_validation else {}
    if dry_run:
        params["dryRun"] = "All"
    return params


class RequestBuilder:
    """Builds the REST paths and bodies of the client contract for one default namespace."""

    def __init__(self, namespace: str = "default") -> None:
        self.namespace = namespace or "default"

    def _ns(self, info: ResourceInfo, namespace: str | None) -> str | None:
        """The namespace for single-object requests: given, else the client's default."""
        if not info.namespaced:
            return None
        return namespace or self.namespace

    def get(
        self, resource: str | ResourceInfo, name: str, namespace: str | None, subresource: str
    ) -> RequestSpec:
        info = resolve(resource)
        return RequestSpec("GET", info.object_path(name, self._ns(info, namespace), subresource))

    def list(
        self,
        resource: str | ResourceInfo,
        namespace: str | None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        resource_version: str | None = None,
    ) -> RequestSpec:
        """A collection GET; ``namespace`` None lists across all namespaces."""
        info = resolve(resource)
        params: dict[str, str] = {}
        if label_selector:
            params["labelSelector"] = label_selector
        if field_selector:
            params["fieldSelector"] = field_selector
        if limit is not None:
            params["limit"] = str(limit)
        if continue_token:
            params["continue"] = continue_token
        if resource_version is not None:
            params["resourceVersion"] = str(resource_version)
        return RequestSpec("GET", info.collection_path(namespace), params)

    def create(
        self,
        resource: str | ResourceInfo,
        body: dict[str, Any],
        namespace: str | None,
        subresource: str = "",
        name: str = "",
        field_validation: str | None = None,
    ) -> RequestSpec:
        """POST to the collection, or to ``name/subresource`` (binding, eviction)."""
        info = resolve(resource)
        ns = None
        if info.namespaced:
            ns = namespace or (body.get("metadata") or {}).get("namespace") or self.namespace
        if subresource:
            if not name:
                name = (body.get("metadata") or {}).get("name") or ""
            if not name:
                raise ValueError(f"create of subresource {subresource!r} needs the object name")
            path = info.object_path(name, ns, subresource)
        else:
            path = info.collection_path(ns)
        return RequestSpec(
            "POST",
            path,
            write_params(field_validation),
            content=dumps(body),
            headers={"Content-Type": JSON},
        )

    def replace(
        self,
        resource: str | ResourceInfo,
        name: str,
        body: dict[str, Any],
        namespace: str | None,
        subresource: str = "",
        field_validation: str | None = None,
        dry_run: bool = False,
    ) -> RequestSpec:
        info = resolve(resource)
        ns = namespace or (body.get("metadata") or {}).get("namespace")
        path = info.object_path(name, self._ns(info, ns), subresource)
        return RequestSpec(
            "PUT",
            path,
            write_params(field_validation, dry_run),
            content=dumps(body),
            headers={"Content-Type": JSON},
        )

    def patch(
        self,
        resource: str | ResourceInfo,
        name: str,
        patch: Any,
        namespace: str | None,
        patch_type: str = "merge",
        subresource: str = "",
        field_manager: str = FIELD_MANAGER,
        force: bool | None = None,
        field_validation: str | None = None,
        dry_run: bool = False,
    ) -> RequestSpec:
        """PATCH with the content type of ``patch_type`` (merge|strategic|json|apply)."""
        info = resolve(resource)
        try:
            ctype = PATCH_CONTENT_TYPES[patch_type]
        except KeyError:
            raise ValueError(
                f"unknown patch_type {patch_type!r}: use one of {', '.join(PATCH_CONTENT_TYPES)}"
            ) from None
        params = write_params(field_validation, dry_run)
        if patch_type == "apply":
            params["fieldManager"] = field_manager
            if force is not None:
                params["force"] = bool_param(force)
        content = patch if isinstance(patch, bytes) else dumps(patch)
        path = info.object_path(name, self._ns(info, namespace), subresource)
        return RequestSpec("PATCH", path, params, content, {"Content-Type": ctype})

    def delete(
        self,
        resource: str | ResourceInfo,
        name: str,
        namespace: str | None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> RequestSpec:
        """DELETE; the options go both in the query and in a DeleteOptions body, since
        servers differ in which one they read."""
        info = resolve(resource)
        params: dict[str, str] = {}
        options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy is not None:
            params["propagationPolicy"] = propagation_policy
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            params["gracePeriodSeconds"] = str(grace_period_seconds)
            options["gracePeriodSeconds"] = grace_period_seconds
        content = dumps(options) if len(options) > 2 else None
        headers = {"Content-Type": JSON} if content else {}
        return RequestSpec(
            "DELETE", info.object_path(name, self._ns(info, namespace)), params, content, headers
        )

    def watch(
        self,
        resource: str | ResourceInfo,
        namespace: str | None,
        *,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        timeout_seconds: int | None = None,
        allow_bookmarks: bool = True,
    ) -> RequestSpec:
        spec = self.list(
            resource,
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            resource_version=resource_version,
        )
        spec.params["watch"] = "true"
        if allow_bookmarks:
            spec.params["allowWatchBookmarks"] = "true"
        if timeout_seconds is not None:
            spec.params["timeoutSeconds"] = str(timeout_seconds)
        return spec

    def log(
        self,
        name: str,
        namespace: str | None,
        *,
        container: str | None = None,
        follow: bool = False,
        tail_lines: int | None = None,
        previous: bool = False,
        timestamps: bool = False,
        since_seconds: int | None = None,
        limit_bytes: int | None = None,
    ) -> RequestSpec:
        info = resolve("pods")
        params: dict[str, str] = {}
        if container:
            params["container"] = container
        if follow:
            params["follow"] = "true"
        if tail_lines is not None:
            params["tailLines"] = str(tail_lines)
        if previous:
            params["previous"] = "true"
        if timestamps:
            params["timestamps"] = "true"
        if since_seconds is not None:
            params["sinceSeconds"] = str(since_seconds)
        if limit_bytes is not None:
            params["limitBytes"] = str(limit_bytes)
        return RequestSpec("GET", info.object_path(name, self._ns(info, namespace), "log"), params)


def stream_timeout(timeout_seconds: int | None) -> httpx.Timeout:
    """Read timeout for a watch: a little longer than the server's own timeout, so a
    silently dead connection is noticed, and none when the server holds it open forever."""
    import httpx

    read = None if timeout_seconds is None else float(timeout_seconds) + 30.0
    return httpx.Timeout(10.0, read=read)


class Reply(Protocol):
    """A complete response: an ``httpx.Response`` or the lean pools' ``reuse.Reply``."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...

    @property
    def text(self) -> str: ...


# Told each warning the server attaches to a reply (kubectl prints them as "Warning: ...").
WarningHandler = Callable[[str], None]

# RFC 9111 warning-value: warn-code SP warn-agent SP quoted warn-text [SP quoted date].
_WARNING = re.compile(r'\s*(\d{3})\s+(\S+)\s+"((?:[^"\\]|\\.)*)"(?:\s+"[^"]*")?\s*(?:,|$)')


def parse_warnings(value: str) -> list[str]:
    """The texts of a ``Warning`` header (one or several comma-separated values, as
    Kubernetes sends them: ``299 - "unknown field \\"spec.x\\""``). A value that does not
    follow the format is kept whole rather than lost."""
    out: list[str] = []
    pos = 0
    while pos < len(value):
        m = _WARNING.match(value, pos)
        if m is None or m.end() == pos:
            rest = value[pos:].strip(" ,")
            if rest:
                out.append(rest)
            break
        out.append(re.sub(r"\\(.)", r"\1", m.group(3)))
        pos = m.end()
    return out


def report_warnings(headers: Mapping[str, str], on_warning: WarningHandler | None) -> None:
    """Hand each warning of a reply's headers to ``on_warning`` (nothing when None)."""
    if on_warning is None:
        return
    value = headers.get("warning")  # httpx's headers ignore case; http1's are lower case
    if value:
        for text in parse_warnings(value):
            on_warning(text)


def decode(resp: Reply, on_warning: WarningHandler | None = None) -> dict[str, Any]:
    """The JSON object of a 2xx response, or the ApiError its Status body describes;
    warnings in its headers go to ``on_warning`` first (error replies carry them too)."""
    report_warnings(resp.headers, on_warning)
    if resp.status_code >= 300:
        raise error_from(resp.status_code, resp.content)
    if not resp.content:
        return {}
    try:
        body = orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        raise ApiError(
            resp.status_code, f"the server sent a non-JSON reply: {resp.text[:200]!r}", "Unknown"
        ) from None
    if not isinstance(body, dict):
        return {"items": body} if isinstance(body, list) else {"value": body}
    return body


def error_from(code: int, content: bytes) -> ApiError:
    """An ApiError built from an error response body (Status JSON, or anything else)."""
    body: Any
    try:
        body = orjson.loads(content) if content else ""
    except orjson.JSONDecodeError:
        body = content.decode("utf-8", "replace")
    if isinstance(body, dict) and body.get("kind") == "Status":
        return ApiError.from_status(body, code)
    if isinstance(body, dict) and "detail" in body:
        # A FastAPI default error: keep its words rather than a repr of the dict.
        body = str(body["detail"])
    if isinstance(body, str) and body.strip():
        return ApiError(code, f"the server answered {code}: {body.strip()[:300]}")
    if not body:
        return ApiError(code, f"the server answered {code} with an empty body")
    return ApiError.from_status(body, code)


def list_body(body: dict[str, Any]) -> dict[str, Any]:
    """A List reply with ``items`` guaranteed to be a list."""
    if body.get("items") is None:
        body["items"] = []
    body.setdefault("metadata", {})
    return body


class LineSplitter:
    """Splits a byte stream into NDJSON lines; holds back a trailing partial line."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        self._buf += chunk
        if b"\n" not in self._buf:
            return
        *lines, self._buf = self._buf.split(b"\n")
        for line in lines:
            if line.strip():
                yield line

    def flush(self) -> Iterator[bytes]:
        rest, self._buf = self._buf, b""
        if rest.strip():
            yield rest


def parse_event(line: bytes) -> dict[str, Any]:
    """One watch event; an ERROR event becomes the ApiError it carries (410 → Expired)."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise ApiError(500, f"malformed watch event from the server: {line[:200]!r}") from None
    if not isinstance(event, dict) or "type" not in event:
        raise ApiError(500, f"malformed watch event from the server: {line[:200]!r}")
    if event["type"] == "ERROR":
        obj = event.get("object") or {}
        code = int(obj.get("code") or 500) if isinstance(obj, dict) else 500
        err = ApiError.from_status(obj, code)
        if err.code == 410:
            err.reason = "Expired"
        raise err
    return event


def describe_transport_error(exc: BaseException) -> str:
    """A short human reason for a transport failure ("connection refused", ...)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, ssl.SSLCertVerificationError):
            return (
                f"TLS certificate verification failed ({e.verify_message}); "
                "does the kubeconfig's CA belong to this server?"
            )
        if isinstance(e, ssl.SSLError):
            return f"TLS handshake failed ({e.reason or e})"
        if isinstance(e, ConnectionRefusedError) or (
            isinstance(e, OSError) and e.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        for nxt in (e.__cause__, e.__context__):
            if nxt is not None:
                stack.append(nxt)
    text = str(exc)
    httpx = sys.modules.get("httpx")  # not loaded: exc is not one of its errors
    if isinstance(exc, TimeoutError) or (
        httpx is not None and isinstance(exc, httpx.TimeoutException)
    ):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, ConnectionResetError | BrokenPipeError) or (
        httpx is not None and isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError)
    ):
        return f"the connection was dropped ({text or type(exc).__name__})"
    if "refused" in text.lower():
        return "connection refused"
    return text or type(exc).__name__


def proxied(base_url: str) -> bool:
    """Whether requests to ``base_url`` go through a proxy of the environment
    (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY), that is, unless NO_PROXY exempts the host."""
    if sys.platform.startswith("linux") and not any(
        k.lower().endswith("_proxy") for k in os.environ
    ):
        return False  # Linux keeps proxies only there; urllib.request is not worth loading
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    u = urlsplit(base_url)
    proxies = getproxies()
    if not (proxies.get(u.scheme) or proxies.get("all")):
        return False
    return not proxy_bypass(u.hostname or "")


def retryable(method: str, exc: BaseException) -> bool:
    """Whether to retry once: a GET on a kept-alive connection the server had already
    closed (e.g. it restarted) fails without an answer; a new connection usually works.
    Writes are not retried, since the server may have applied them. ``exc`` is httpx's
    or, from ``client.blocking``, the standard library's (``RemoteDisconnected`` is a
    ``ConnectionResetError``)."""
    if method not in ("GET", "HEAD"):
        return False
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return True
    httpx = sys.modules.get("httpx")  # not loaded: exc is not one of its errors
    return httpx is not None and isinstance(
        exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError
    )


# How often a request answered 429 with Retry-After is sent again (client-go: 10), and the
# longest wait one Retry-After may ask of us.
RETRY_AFTER_TRIES = 10
RETRY_AFTER_MAX = 30.0


def retry_after(reply: Reply, tries: int) -> float | None:
    """Seconds to wait before sending again, when the server asked for it: a 429 (its
    flow control turned the request away before acting on it) or a 5xx (its database was
    away) with Retry-After, as client-go does, and fewer than ``RETRY_AFTER_TRIES`` tries so
    far; else None. A retried create whose first try did land gets 409, as in Kubernetes."""
    code = reply.status_code
    if not (code == 429 or 500 <= code <= 599) or tries >= RETRY_AFTER_TRIES:
        return None
    raw = reply.headers.get("retry-after") or reply.headers.get("Retry-After")
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None
    if seconds is None:
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def unreachable(server: str, exc: BaseException) -> ServerUnreachable:
    return ServerUnreachable(server, describe_transport_error(exc))


def object_key(obj: dict[str, Any]) -> str:
    """The cache key of an object: ``namespace/name``, or ``name`` when cluster-scoped."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "")
    return f"{ns}/{name}" if ns else str(name)


def rv_newer(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether ``new`` is a later version than ``old`` by resourceVersion.

    kubelab's resourceVersions are integers; anything non-numeric is compared for
    inequality only (opaque, as Kubernetes says), so a different one counts as newer.
    """
    a = (new.get("metadata") or {}).get("resourceVersion")
    b = (old.get("metadata") or {}).get("resourceVersion")
    if a is None or b is None:
        return True
    try:
        return int(a) > int(b)
    except (TypeError, ValueError):
        return a != b


def resource_version(obj: dict[str, Any]) -> str | None:
    rv = (obj.get("metadata") or {}).get("resourceVersion")
    return str(rv) if rv not in (None, "") else None


class Converger:
    """Tracks the objects a resumable watch has reported, so that after a 410 a fresh list
    can be turned into the synthetic ADDED/MODIFIED/DELETED events that bring the caller's
    view to the listed state."""

    def __init__(self) -> None:
        self.known: dict[str, dict[str, Any]] = {}
        self.last_rv: str | None = None

    def observe(self, event: dict[str, Any]) -> None:
        obj = event.get("object") or {}
        rv = resource_version(obj)
        if rv is not None:
            self.last_rv = rv
        etype = event.get("type")
        if etype in ("ADDED", "MODIFIED"):
            self.known[object_key(obj)] = obj
        elif etype == "DELETED":
            self.known.pop(object_key(obj), None)

    def relisted(self, listing: dict[str, Any]) -> list[dict[str, Any]]:
        """Events taking the known state to ``listing``; updates the known state."""
        events: list[dict[str, Any]] = []
        fresh: dict[str, dict[str, Any]] = {}
        for item in listing.get("items") or []:
            key = object_key(item)
            fresh[key] = item
            old = self.known.get(key)
            if old is None:
                events.append({"type": "ADDED", "object": item})
            elif resource_version(old) != resource_version(item):
                events.append({"type": "MODIFIED", "object": item})
        for key, old in self.known.items():
            if key not in fresh:
                events.append({"type": "DELETED", "object": old})
        self.known = fresh
        self.last_rv = resource_version(listing) or self.last_rv
        return events
