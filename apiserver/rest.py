"""The Kubernetes REST verbs on resource paths: list, watch, get, create, update, patch,
delete, and the subresources status, scale, binding, eviction, log and exec."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from api.errors import ApiError, Cause, bad_request, invalid, not_found
from api.patch import PatchError, UnsupportedPatchType, apply_patch
from api.registry import ResourceInfo
from api.selectors import SelectionPredicate, SelectorError
from apiserver import (
    csr,
    ephemeral_containers,
    ingress_admission,
    server_side_apply,
    streaming,
    tables,
)
from apiserver.bodies import (
    MAX_BODY,
    decode_body,
    json_response,
    raw_json_response,
    status_bytes,
    success_status,
    too_large,
)
from apiserver.crd_scale import custom_scale
from apiserver.objects import ObjectService, WriteOptions, store_key
from apiserver.paths import Target
from apiserver.pods import PodSubresources
from apiserver.sa_tokens import TokenSigner
from apiserver.store import Event, Store
from apiserver.tables.custom import column_definitions, custom_cells
from apiserver.token_request import issue_token
from apiserver.watch import Watcher, WatchHub, event_line, stream
from apiserver.watch_tables import LINGER as TABLE_LINGER
from apiserver.watch_tables import TableLines

TABLE_CT = "application/json;as=Table;v=v1;g=meta.k8s.io"
DEFAULT_WATCH_TIMEOUT = 1800.0


def _bool(v: str | None) -> bool:
    return (v or "").lower() in ("true", "1", "yes")


def _int_param(q: Any, name: str) -> int | None:
    v = q.get(name)
    if v in (None, ""):
        return None
    try:
        return int(v)
    except ValueError as exc:
        raise bad_request(f"query parameter {name}={v!r} must be an integer") from exc


def _header_safe(text: str) -> str:
    """``text`` as a valid HTTP header value: a field name a user wrote may hold any
    character, and a header carries only printable Latin-1 (anything else, escaped)."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)


def warning_header(warnings: list[str]) -> str:
    """The ``Warning`` header for ``warnings``: ``299 - "text"`` values, comma-separated,
    each text a quoted-string (RFC 9111), so a quote in it (``unknown field "spec.x"``)
    is escaped and clients such as kubectl can read it back."""
    values = []
    for w in warnings[:20]:
        quoted = w.replace("\\", "\\\\").replace('"', '\\"')
        values.append(f'299 - "{quoted}"')
    return _header_safe(", ".join(values))


def _wants_table(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "as=Table" in accept


def _predicate(q: Any) -> SelectionPredicate:
    """The request's labelSelector and fieldSelector; 400 naming a parameter that is bad."""
    try:
        return SelectionPredicate.from_query(q.get("labelSelector"), q.get("fieldSelector"))
    except SelectorError as exc:
        raise bad_request(f"query parameter {exc}") from exc


def _encode_continue(rv: int, ns: str, name: str) -> str:
    raw = orjson.dumps({"rv": rv, "ns": ns, "n": name})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        pad = "=" * (-len(token) % 4)
        d = orjson.loads(base64.urlsafe_b64decode(token + pad))
        return str(d["ns"]), str(d["n"])
    except Exception as exc:
        raise bad_request(
            "the continue token is not valid: start the list again without continue"
        ) from exc


def _node_of_selector(info: ResourceInfo, pred: SelectionPredicate) -> str | None:
    """``spec.nodeName=X`` on pods is answered from the store's node index."""
    if info.kind != "Pod":
        return None
    return pred.exact_field("spec.nodeName")


class ResourceHandler:
    """Serves one request on a resource path."""

    def __init__(self, store: Store, hub: WatchHub, objects: ObjectService, pods: PodSubresources):
        self.store = store
        self.hub = hub
        self.table_lines = TableLines()  # Table watch events, rendered once for all watchers
        self.objects = objects
        self.pods = pods
        self.token_signer: TokenSigner | None = None  # serviceaccounts/token (app.py sets it)

    async def read_body(self, request: Request) -> Any:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY:
            raise too_large(int(length))
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large(size)
            chunks.append(chunk)
        raw = b"".join(chunks)
        request.scope["kubelab.body"] = raw  # the audit log's requestObject, at Request level
        return raw

    def write_options(self, request: Request) -> WriteOptions:
        agent = request.headers.get("user-agent")
        if not request.scope.get("query_string"):
            # Most writes carry no parameters: skip building the query mapping.
            manager = server_side_apply.manager_of(None, agent)
            return WriteOptions(
                dry_run=False, field_validation="Warn", warnings=[], manager=manager
            )
        q = request.query_params
        fv = q.get("fieldValidation") or "Warn"
        if fv not in ("Strict", "Warn", "Ignore"):
            raise bad_request(f'fieldValidation "{fv}" is not one of Strict, Warn, Ignore')
        dry = q.getlist("dryRun")
        if any(d not in ("All", "") for d in dry):
            raise bad_request('dryRun must be "All"')
        manager = server_side_apply.manager_of(q.get("fieldManager"), agent)
        return WriteOptions(dry_run="All" in dry, field_validation=fv, warnings=[], manager=manager)

    def _respond(self, obj: Any, code: int, opts: WriteOptions | None = None) -> Response:
        headers: dict[str, str] = {}
        if opts is not None and opts.warnings:
            headers["Warning"] = warning_header(opts.warnings)
        return json_response(obj, code, headers)

    def _rewrites(self, info: ResourceInfo) -> bool:
        """Whether ``info`` is a custom kind's version other than its storage version."""
        if not info.custom:
            return False
        ck = self.objects.custom_kinds.get((info.group, info.plural))
        return ck is not None and ck.storage_version != info.version

    def _as_version(self, info: ResourceInfo, raw: bytes) -> bytes:
        """A custom object read through a version other than its storage version: the
        stored JSON with apiVersion rewritten (conversion strategy None)."""
        if not self._rewrites(info):
            return raw
        obj = orjson.loads(raw)
        obj["apiVersion"] = info.api_version
        return orjson.dumps(obj)

    def _custom_table(self, info: ResourceInfo) -> Any:
        cv = self.objects.custom_version(info)
        if cv is None:
            return None
        cols = cv.columns
        return (column_definitions(cols), lambda o, now: custom_cells(o, cols, now))

    def _respond_event(
        self, ev: Event, code: int, opts: WriteOptions, info: ResourceInfo | None = None
    ) -> Response:
        """The written object, answered with the JSON the store already serialised
        (a dry run has none: it is serialised here); a custom object in the version the
        request was made in."""
        if not ev.data:
            obj = ev.obj
            if info is not None and info.custom:
                obj = {**obj, "apiVersion": info.api_version}
            return self._respond(obj, code, opts)
        headers: dict[str, str] = {}
        if opts.warnings:
            headers["Warning"] = warning_header(opts.warnings)
        data = self._as_version(info, ev.data) if info is not None else ev.data
        return raw_json_response(data, code, headers)

    async def handle(self, request: Request, t: Target) -> Response:
        method = request.method
        info = t.info
        if t.subresource:
            return await self._subresource(request, t)
        if not t.name:
            if method == "GET":
                if _bool(request.query_params.get("watch")):
                    return await self.watch(request, t)
                return await self.list_collection(request, t)
            if method == "POST":
                if t.namespace is None and info.namespaced:
                    raise ApiError(
                        405,
                        f"POST {info.plural} needs a namespace: use "
                        f"{info.collection_path('default')}",
                        "MethodNotAllowed",
                    )
                opts = self.write_options(request)
                body = decode_body(
                    await self.read_body(request), request.headers.get("content-type", "")
                )
                csr.stamp(info, body, request)
                ingress_admission.admit(info, body, self.store)
                created = await self.objects.create_event(info, body, t.namespace, opts)
                return self._respond_event(created, 201, opts, info)
            if method == "DELETE":
                return await self.delete_collection(request, t)
            raise ApiError(405, f"{method} is not allowed on a collection", "MethodNotAllowed")
        ns = t.namespace if info.namespaced else None
        if info.namespaced and ns is None:
            raise ApiError(
                404, f"{info.plural} are namespaced: use {info.object_path(t.name, 'default')}"
            )
        if method == "GET":
            if _bool(request.query_params.get("watch")):
                return await self.watch(request, t)
            raw = self.store.get_raw(store_key(info), ns or "", t.name)
            if raw is None:
                raise not_found(info.plural, t.name, info.group)
            if _wants_table(request):
                return self.table_response(
                    [orjson.loads(raw)], info, str(self.store.committed_rv), request
                )
            return raw_json_response(self._as_version(info, raw))
        if method == "PUT":
            opts = self.write_options(request)
            body = decode_body(
                await self.read_body(request), request.headers.get("content-type", "")
            )
            out = await self.objects.update_event(info, t.name, body, ns, opts)
            return self._respond_event(out, 200, opts, info)
        if method == "PATCH":
            return await self.patch(request, t)
        if method == "DELETE":
            return await self.delete(request, t)
        raise ApiError(405, f"{method} is not allowed here", "MethodNotAllowed")

    # -- reads ---------------------------------------------------------------------------

    def table_response(
        self,
        objs: list[dict[str, Any]],
        info: ResourceInfo,
        rv: str,
        request: Request,
        cont: str = "",
    ) -> Response:
        include = request.query_params.get("includeObject") or "Metadata"
        table = tables.to_table(
            info.plural, objs, datetime.now(UTC), include, custom=self._custom_table(info)
        )
        table["metadata"] = {"resourceVersion": rv}
        if cont:
            table["metadata"]["continue"] = cont
        return Response(orjson.dumps(table), 200, media_type=TABLE_CT)

    async def list_collection(self, request: Request, t: Target) -> Response:
        info = t.info
        q = request.query_params
        pred = _predicate(q)
        limit = _int_param(q, "limit")
        if limit is not None and limit <= 0:
            limit = None  # as in Kubernetes: a limit of zero or less is no limit
        after = _decode_continue(q["continue"]) if q.get("continue") else None
        node = _node_of_selector(info, pred)
        key = store_key(info)
        filtering = not pred.empty
        rv, rows = self.store.list_raw(
            key, t.namespace, node=node, after=after, limit=None if filtering else limit
        )
        objs: list[dict[str, Any]] | None = None
        if filtering:
            objs = []
            for raw in rows:
                o = orjson.loads(raw)
                if pred.matches(o):
                    objs.append(o)
            more = bool(limit and len(objs) > limit)
            if limit:
                objs = objs[:limit]
            rows = [orjson.dumps(o) for o in objs] if not _wants_table(request) else []
        else:
            more = bool(
                limit and len(rows) == limit and self._has_more(key, t.namespace, node, rows)
            )
        cont = ""
        if more:
            last = objs[-1] if objs else orjson.loads(rows[-1])
            m = last["metadata"]
            cont = _encode_continue(rv, m.get("namespace", ""), m["name"])
        if _wants_table(request):
            if objs is None:
                objs = [orjson.loads(r) for r in rows]
            return self.table_response(objs, info, str(rv), request, cont)
        if info.custom:
            rows = [self._as_version(info, r) for r in rows]
        meta = b'{"resourceVersion":"' + str(rv).encode() + b'"'
        if cont:
            meta += b',"continue":"' + cont.encode() + b'"'
        meta += b"}"
        body = (
            b'{"kind":"'
            + info.list_kind.encode()
            + b'","apiVersion":"'
            + info.api_version.encode()
            + b'","metadata":'
            + meta
            + b',"items":['
            + b",".join(rows)
            + b"]}"
        )
        return raw_json_response(body)

    def _has_more(self, key: str, ns: str | None, node: str | None, rows: list[bytes]) -> bool:
        last = orjson.loads(rows[-1])["metadata"]
        _, nxt = self.store.list_raw(
            key, ns, node=node, after=(last.get("namespace", ""), last["name"]), limit=1
        )
        return bool(nxt)

    async def watch(self, request: Request, t: Target) -> Response:
        info = t.info
        q = request.query_params
        pred = _predicate(q)
        if t.name:
            pred = pred.with_name(t.name)
        timeout = float(_int_param(q, "timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        bookmarks = _bool(q.get("allowWatchBookmarks"))
        send_initial = _bool(q.get("sendInitialEvents"))
        rv_param = q.get("resourceVersion") or ""
        w = Watcher(store_key(info), t.namespace, pred)
        initial: list[bytes] = []
        if send_initial or rv_param in ("", "0"):
            # Register before the snapshot: every later commit lands in the queue.
            self.hub.register(w)
            start_rv, rows = self.store.list_raw(store_key(info), t.namespace)
            if pred.empty:
                initial = rows
            else:
                initial = [raw for raw in rows if pred.matches(orjson.loads(raw))]
        else:
            try:
                start_rv = int(rv_param)
            except ValueError as exc:
                raise bad_request(
                    f"resourceVersion {rv_param!r} is not valid: use one from a list"
                ) from exc
            if start_rv < self.store.compacted_rv:
                from apiserver.watch import expired

                raise expired(start_rv, self.store.compacted_rv)
            self.hub.register(w)
        as_table = _wants_table(request)
        render = None
        custom_table = self._custom_table(info)
        if not as_table and self._rewrites(info):

            def render(etype: str, data: bytes, _ev: Any) -> bytes:
                return event_line(etype, self._as_version(info, data))

        if as_table:
            first = [True]
            kind_key = store_key(info)

            def render(etype: str, data: bytes, _ev: Any) -> bytes:
                def row(columns: bool) -> bytes:
                    obj = orjson.loads(data)
                    table = tables.to_table(
                        info.plural, [obj], datetime.now(UTC), "Object", custom=custom_table
                    )
                    if not columns:
                        table["columnDefinitions"] = []
                    return event_line(etype, orjson.dumps(table))

                if first[0]:
                    first[0] = False
                    return row(True)
                # Every other watcher of this kind gets this same event: render it once.
                return self.table_lines.line(kind_key, etype, data, lambda: row(False))

        gen = stream(
            self.hub,
            w,
            initial,
            start_rv,
            timeout,
            bookmarks or send_initial,
            info.kind,
            info.api_version,
            send_initial,
            render,
            linger=TABLE_LINGER if as_table else 0.0,
        )
        media = TABLE_CT if as_table else "application/json"
        return StreamingResponse(gen, media_type=media)

    # -- writes --------------------------------------------------------------------------

    async def patch(self, request: Request, t: Target, subresource: str = "") -> Response:
        info = t.info
        ct = request.headers.get("content-type", "")
        raw = await self.read_body(request)
        opts = self.write_options(request)
        is_apply = ct.split(";")[0].strip() == "application/apply-patch+yaml"
        patch_body = decode_body(raw, "application/yaml" if is_apply else "application/json")
        ns = t.namespace if info.namespaced else None
        ssa: Callable[[dict[str, Any]], dict[str, Any]] | None = None

        def apply(current: dict[str, Any]) -> dict[str, Any]:
            if ssa is not None:
                return ssa(current)
            try:
                return apply_patch(current, patch_body, ct, info.kind)
            except UnsupportedPatchType as exc:
                raise ApiError(415, str(exc), "UnsupportedMediaType") from exc
            except PatchError as exc:
                if exc.code == 400:
                    raise bad_request(f"the patch is malformed: {exc}") from exc
                raise invalid(
                    info.kind, t.name, [Cause("", f"the patch cannot be applied: {exc}")]
                ) from exc

        create = None
        if is_apply:  # field ownership in metadata.managedFields (apiserver/server_side_apply)
            opts.manager = None  # an apply records its own Apply entry, no Update one
            ssa, create = server_side_apply.apply_functions(
                info, t.name, patch_body, request.query_params, subresource
            )
        out, created = await self.objects.patch_event(
            info, t.name, ns, apply, opts, subresource, create_if_missing=create, pure_apply=True
        )
        return self._respond_event(out, 201 if created else 200, opts, info)

    async def delete(self, request: Request, t: Target) -> Response:
        info = t.info
        q = request.query_params
        opts = self.write_options(request)
        # DELETE bodies (DeleteOptions) may be protobuf from kubectl drain: read them only
        # when they are JSON, and otherwise rely on the query parameters.
        body: dict[str, Any] = {}
        raw = await self.read_body(request)
        if raw.strip() and "json" in request.headers.get("content-type", "json"):
            try:
                parsed = orjson.loads(raw)
                body = parsed if isinstance(parsed, dict) else {}
            except orjson.JSONDecodeError:
                body = {}
        propagation = q.get("propagationPolicy") or body.get("propagationPolicy")
        grace = _int_param(q, "gracePeriodSeconds")
        if grace is None and isinstance(body.get("gracePeriodSeconds"), int):
            grace = body["gracePeriodSeconds"]
        if body.get("orphanDependents") is True and not propagation:
            propagation = "Orphan"
        pre = body.get("preconditions") or {}
        obj, removed = await self.objects.delete(
            info,
            t.name,
            t.namespace if info.namespaced else None,
            opts,
            propagation,
            grace,
            pre.get("uid"),
            pre.get("resourceVersion"),
        )
        # As Kubernetes' generic registry: an object that is only marked for deletion
        # (grace period, finalizers) is answered as it now is; one removed at once, with
        # its last state where the kind returns it, else a Status of success (no code).
        if not removed or info.returns_deleted_object:
            return self._respond(obj, 200, opts)
        uid = str((obj.get("metadata") or {}).get("uid") or "")
        status = success_status(info.plural, t.name, info.group, uid, code=None)
        headers = {"Warning": warning_header(opts.warnings)} if opts.warnings else None
        return raw_json_response(status_bytes(status), 200, headers)

    async def delete_collection(self, request: Request, t: Target) -> Response:
        info = t.info
        q = request.query_params
        pred = _predicate(q)
        opts = self.write_options(request)
        _, rows = self.store.list_raw(store_key(info), t.namespace)
        items = []
        for raw in rows:
            o = orjson.loads(raw)
            if not pred.matches(o):
                continue
            m = o["metadata"]
            try:
                out, _ = await self.objects.delete(
                    info,
                    m["name"],
                    m.get("namespace"),
                    opts,
                    q.get("propagationPolicy"),
                    _int_param(q, "gracePeriodSeconds"),
                )
                items.append(out)
            except ApiError as exc:
                if exc.code != 404:
                    raise
        return json_response(
            {
                "kind": info.list_kind,
                "apiVersion": info.api_version,
                "metadata": {"resourceVersion": str(self.store.committed_rv)},
                "items": items,
            }
        )

    # -- subresources --------------------------------------------------------------------

    async def _ephemeral_containers(self, request: Request, t: Target) -> Response:
        """GET answers the pod; a PATCH or PUT is checked by apiserver/ephemeral_containers
        (refused when it adds one, else the pod as it is: nothing else may change here)."""
        raw = self.store.get_raw(store_key(t.info), t.namespace or "", t.name)
        if raw is None:
            raise not_found(t.info.plural, t.name, t.info.group)
        if request.method not in ("GET", "PATCH", "PUT"):
            raise ApiError(
                405,
                f"{request.method} is not allowed on pods/ephemeralcontainers: use GET, "
                "PATCH or PUT",
                "MethodNotAllowed",
            )
        if request.method != "GET":
            current = orjson.loads(raw)
            ct = request.headers.get("content-type", "")
            body = decode_body(await self.read_body(request), ct)
            if request.method == "PUT":
                wanted = body
            else:
                try:
                    wanted = apply_patch(current, body, ct, "Pod")
                except UnsupportedPatchType as exc:
                    raise ApiError(415, str(exc), "UnsupportedMediaType") from exc
                except PatchError as exc:
                    raise bad_request(f"the patch is malformed: {exc}") from exc
            ephemeral_containers.check_write(current, wanted)
        return raw_json_response(self._as_version(t.info, raw))

    async def _subresource(self, request: Request, t: Target) -> Response:
        info, sub, method = t.info, t.subresource, request.method
        ns = t.namespace if info.namespaced else None
        if (
            sub == "status"
            or (sub == "finalize" and info.kind == "Namespace")
            or csr.is_csr_subresource(info, sub)
        ):
            if method == "GET":
                raw = self.store.get_raw(store_key(info), ns or "", t.name)
                if raw is None:
                    raise not_found(info.plural, t.name, info.group)
                return raw_json_response(self._as_version(info, raw))
            if method == "PUT":
                opts = self.write_options(request)
                body = decode_body(
                    await self.read_body(request), request.headers.get("content-type", "")
                )
                if sub == "finalize":
                    out = await self.pods.finalize_namespace(info, t.name, body, opts)
                else:
                    ev = await self.objects.update_event(
                        info, t.name, body, ns, opts, subresource=sub
                    )
                    return self._respond_event(ev, 200, opts, info)
                return self._respond(out, 200, opts)
            if method == "PATCH" and sub != "finalize":
                return await self.patch(request, t, subresource=sub)
        elif sub == "ephemeralcontainers" and info.kind == "Pod":
            return await self._ephemeral_containers(request, t)
        elif sub == "scale" and info.custom:
            cv = self.objects.custom_version(info)
            assert cv is not None and cv.scale is not None
            return await custom_scale(
                self.objects,
                cv.scale,
                method,
                t,
                request.headers.get("content-type", ""),
                await self.read_body(request),
                self.write_options(request),
            )
        elif sub == "scale":
            if method == "GET":
                return self.pods.get_scale(t)
            opts = self.write_options(request)
            raw = await self.read_body(request)
            ct = request.headers.get("content-type", "")
            return await self.pods.write_scale(method, t, ct, raw, opts)
        elif sub == "binding" and method == "POST":
            body = decode_body(
                await self.read_body(request), request.headers.get("content-type", "")
            )
            return await self.pods.bind(t, body, self.write_options(request))
        elif sub == "eviction" and method == "POST":
            raw = await self.read_body(request)
            body = decode_body(raw, request.headers.get("content-type", "")) if raw.strip() else {}
            return await self.pods.evict(t, body, self.write_options(request))
        elif sub == "log" and method == "GET":
            return await self.pods.log(request, t)
        elif sub == "proxy" and info.kind == "Node" and method == "GET":
            return await self.pods.node_proxy(t)
        elif sub == "token" and info.kind == "ServiceAccount" and method == "POST":
            assert self.token_signer is not None and ns is not None
            body = decode_body(
                await self.read_body(request), request.headers.get("content-type", "")
            )
            answer = issue_token(self.token_signer, self.store, ns, t.name, body)
            return json_response(answer, status=201)
        elif sub in streaming.STREAMED and method in ("POST", "GET"):
            if streaming.wants_other_upgrade(request):
                raise streaming.refuse_spdy(self.pods, request, t)
            if sub != "exec":
                raise bad_request(
                    f"{sub} streams over WebSocket only (subprotocol "
                    f"{'v4' if sub == 'portforward' else 'v5'}.channel.k8s.io)"
                )
            raw = await self.read_body(request)
            return await self.pods.exec(request, t, raw)
        raise ApiError(405, f"{method} is not allowed on {info.plural}/{sub}", "MethodNotAllowed")
