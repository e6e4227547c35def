"""The client on the wire: Client, AsyncClient and Informer against a small fake
Kubernetes API (Starlette under uvicorn in a thread, plain http on 127.0.0.1).

The fake keeps objects and a change log with integer resourceVersions, pages lists,
serves NDJSON watches (resume from an RV, 410 below its compaction point, BOOKMARK at
the end), and can expire, drop or inject events into open watch streams on demand.
"""

from __future__ import annotations

import asyncio
import copy
import queue
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from client import (
    ApiError,
    AsyncClient,
    Client,
    Informer,
    ServerUnreachable,
    WorkQueue,
    object_key,
)
from client.informer import InformerFactory
from tests.wait import wait_for, wait_for_async

TOKEN = "wire-token"
Obj = dict[str, Any]


def status(code: int, reason: str, message: str, name: str = "", kind: str = "") -> Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
        "details": {"name": name, "kind": kind},
    }
    return Response(orjson.dumps(body), status_code=code, media_type="application/json")


def json_response(obj: Any, code: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=code, media_type="application/json")


def merge(base: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return copy.deepcopy(patch)
    out = dict(base)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge(base.get(k), v)
    return out


class FakeApi:
    """A tiny, thread-safe stand-in for the apiserver's REST and watch behaviour."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.objects: dict[tuple[str, str, str], Obj] = {}
            self.log: list[tuple[int, str, str, Obj]] = []  # (rv, plural, type, obj)
            self.rv = 100
            self.compacted = 0
            self.requests: list[dict[str, Any]] = []
            self.expire_epoch = 0
            self.drop_epoch = 0
            self.injected: list[bytes] = []
            self.expired_as_event = False
            self.null_items = False
            self.watch_count = 0

    # -- store (callable from the test thread) --------------------------------------

    def _record(self, plural: str, etype: str, obj: Obj) -> Obj:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        self.log.append((self.rv, plural, etype, obj))
        return obj

    def put(self, plural: str, obj: Obj) -> Obj:
        meta = obj["metadata"]
        key = (plural, meta.get("namespace", ""), meta["name"])
        with self.lock:
            etype = "MODIFIED" if key in self.objects else "ADDED"
            stored = self._record(plural, etype, obj)
            self.objects[key] = stored
            return stored

    def remove(self, plural: str, ns: str, name: str) -> Obj | None:
        with self.lock:
            obj = self.objects.pop((plural, ns, name), None)
            if obj is None:
                return None
            return self._record(plural, "DELETED", obj)

    def compact(self) -> None:
        with self.lock:
            self.compacted = self.rv

    def expire_open_watches(self) -> None:
        with self.lock:
            self.expire_epoch += 1

    def drop_open_watches(self) -> None:
        with self.lock:
            self.drop_epoch += 1

    def inject(self, event: Obj) -> None:
        with self.lock:
            self.injected.append(orjson.dumps(event) + b"\n")

    # -- HTTP ------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        segs = [s for s in request.url.path.split("/") if s]
        params = dict(request.query_params)
        with self.lock:
            self.requests.append(
                {
                    "method": request.method,
                    "path": request.url.path,
                    "params": params,
                    "content_type": request.headers.get("content-type", ""),
                    "auth": request.headers.get("authorization", ""),
                    "body": orjson.loads(body) if body else None,
                }
            )
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return status(401, "Unauthorized", "Unauthorized")
        if segs == ["boom"]:
            return PlainTextResponse("database on fire", status_code=500)
        if segs[:2] == ["api", "v1"]:
            rest = segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 3:
            rest = segs[3:]
        else:
            return status(404, "NotFound", "the server could not find the requested resource")
        ns = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        method = request.method
        if not name:
            if method == "GET" and params.get("watch") == "true":
                return self.watch(plural, ns, params)
            if method == "GET":
                return self.list(plural, ns, params)
            if method == "POST":
                obj = orjson.loads(body)
                obj.setdefault("metadata", {})
                if ns:
                    obj["metadata"]["namespace"] = ns
                if (plural, ns, obj["metadata"]["name"]) in self.objects:
                    n = obj["metadata"]["name"]
                    return status(409, "AlreadyExists", f'{plural} "{n}" already exists', n)
                return json_response(self.put(plural, obj), 201)
        key = (plural, ns, name)
        current = self.objects.get(key)
        if sub == "binding" and method == "POST":
            return json_response({"kind": "Status", "status": "Success", "code": 201}, 201)
        if sub == "log":
            return self.pod_log(params)
        if current is None:
            return status(404, "NotFound", f'{plural} "{name}" not found', name, plural)
        if method == "GET":
            return json_response(current)
        if method == "PUT":
            obj = orjson.loads(body)
            if obj["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                return status(409, "Conflict", "the object has been modified", name, plural)
            return json_response(self.put(plural, obj))
        if method == "PATCH":
            patch = orjson.loads(body)
            new = merge(current, patch) if isinstance(patch, dict) else current
            return json_response(self.put(plural, new))
        if method == "DELETE":
            return json_response(self.remove(plural, ns, name))
        return status(405, "MethodNotAllowed", "no")

    def list(self, plural: str, ns: str, params: dict[str, str]) -> Response:
        with self.lock:
            items = [
                o
                for (p, n, _), o in sorted(self.objects.items())
                if p == plural and (not ns or n == ns)
            ]
            rv = self.rv
        sel = params.get("labelSelector")
        if sel:
            k, v = sel.split("=")
            items = [o for o in items if (o["metadata"].get("labels") or {}).get(k) == v]
        start = 0
        if params.get("continue"):
            start_s, rv_s = params["continue"].split(":")
            start, rv = int(start_s), int(rv_s)
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if params.get("limit"):
            end = start + int(params["limit"])
            if end < len(items):
                meta["continue"] = f"{end}:{rv}"
            items = items[start:end]
        kind = plural[:-1].capitalize() + "List"
        body: Obj = {"kind": kind, "apiVersion": "v1", "metadata": meta, "items": items}
        if self.null_items and not items:
            body["items"] = None
        return json_response(body)

    def watch(self, plural: str, ns: str, params: dict[str, str]) -> Response:
        rv_param = params.get("resourceVersion")
        timeout = float(params.get("timeoutSeconds") or 30)
        bookmarks = params.get("allowWatchBookmarks") == "true"
        with self.lock:
            self.watch_count += 1
            if rv_param not in (None, "", "0") and int(rv_param) < self.compacted:
                if not self.expired_as_event:
                    return status(410, "Expired", f"too old resource version: {rv_param}")
                line = orjson.dumps(
                    {
                        "type": "ERROR",
                        "object": {
                            "kind": "Status",
                            "code": 410,
                            "reason": "Expired",
                            "message": "too old resource version",
                        },
                    }
                )
                return Response(line + b"\n", media_type="application/json")
            initial: list[bytes] = []
            if rv_param in (None, "", "0"):
                for (p, n, _), o in sorted(self.objects.items()):
                    if p == plural and (not ns or n == ns):
                        initial.append(orjson.dumps({"type": "ADDED", "object": o}) + b"\n")
                since = self.rv
            else:
                since = int(rv_param)
            expire0, drop0, inj0 = self.expire_epoch, self.drop_epoch, len(self.injected)

        async def stream() -> AsyncIterator[bytes]:
            nonlocal since, inj0
            deadline = time.monotonic() + timeout
            for line in initial:
                yield line
            while True:
                with self.lock:
                    out = []
                    for rv, p, etype, obj in self.log:
                        if rv > since and p == plural:
                            if not ns or obj["metadata"].get("namespace") == ns:
                                out.append(orjson.dumps({"type": etype, "object": obj}) + b"\n")
                    since = self.rv
                    out.extend(self.injected[inj0:])
                    inj0 = len(self.injected)
                    expired = self.expire_epoch != expire0
                    dropped = self.drop_epoch != drop0
                for line in out:
                    yield line
                if expired:
                    yield (
                        orjson.dumps(
                            {
                                "type": "ERROR",
                                "object": {
                                    "kind": "Status",
                                    "code": 410,
                                    "reason": "Expired",
                                    "message": "too old resource version",
                                },
                            }
                        )
                        + b"\n"
                    )
                    return
                if dropped:
                    raise ConnectionAbortedError("dropped by the test")
                if time.monotonic() > deadline:
                    if bookmarks:
                        bm = {"kind": "Pod", "metadata": {"resourceVersion": str(since)}}
                        yield orjson.dumps({"type": "BOOKMARK", "object": bm}) + b"\n"
                    return
                await asyncio.sleep(0.005)  # the fake server's watch loop polls its store

        return StreamingResponse(stream(), media_type="application/json")

    def pod_log(self, params: dict[str, str]) -> Response:
        if params.get("follow") != "true":
            return PlainTextResponse("one\ntwo\n")

        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"alpha\nbe", b"ta\n", b"gamma\n"):
                yield part
                await asyncio.sleep(0.01)  # paced, so the client sees separate chunks

        return StreamingResponse(chunks(), media_type="text/plain")


class ServerThread:
    def __init__(self, api: FakeApi) -> None:
        app = Starlette(
            routes=[
                Route(
                    "/{path:path}",
                    api.handle,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                )
            ]
        )
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def __enter__(self) -> ServerThread:
        self.thread.start()
        wait_for(lambda: self.server.started, "the fake apiserver started", 10, interval=0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[FakeApi, str]]:
    api = FakeApi()
    with ServerThread(api) as srv:
        yield api, f"http://127.0.0.1:{srv.port}"


@pytest.fixture
def api(server: tuple[FakeApi, str]) -> FakeApi:
    server[0].reset()
    return server[0]


@pytest.fixture
def url(server: tuple[FakeApi, str]) -> str:
    return server[1]


@pytest.fixture
def client(url: str, api: FakeApi) -> Iterator[Client]:
    with Client(url, token=TOKEN) as c:
        yield c


def pod(name: str, ns: str = "default", **labels: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def arun(fn: Callable[[], Awaitable[Any]], timeout: float = 20) -> Any:
    return asyncio.run(asyncio.wait_for(fn(), timeout))


# -- request shape ----------------------------------------------------------------------


def test_crud_request_shapes(client: Client, api: FakeApi) -> None:
    created = client.create("pods", pod("web"))
    assert created["metadata"]["resourceVersion"] == "101"
    r = api.requests[-1]
    assert (r["method"], r["path"]) == ("POST", "/api/v1/namespaces/default/pods")
    assert r["auth"] == f"Bearer {TOKEN}"
    assert r["content_type"] == "application/json"
    assert r["body"]["metadata"]["name"] == "web"

    client.create("po", pod("other", ns="team"))  # namespace from the body, short name
    assert api.requests[-1]["path"] == "/api/v1/namespaces/team/pods"
    assert client.get("pods", "other", "team")["metadata"]["namespace"] == "team"

    got = client.get("pods", "web")
    assert api.requests[-1]["path"] == "/api/v1/namespaces/default/pods/web"
    got["spec"]["containers"][0]["image"] = "busybox:2"
    replaced = client.replace("pods", "web", got)
    assert api.requests[-1]["method"] == "PUT"
    assert replaced["spec"]["containers"][0]["image"] == "busybox:2"

    client.create("nodes", {"metadata": {"name": "n1"}})
    assert api.requests[-1]["path"] == "/api/v1/nodes"  # cluster-scoped: no namespace
    client.get("nodes", "n1", namespace="ignored")
    assert api.requests[-1]["path"] == "/api/v1/nodes/n1"

    client.create("deployments", {"metadata": {"name": "d"}}, "apps-ns")
    assert api.requests[-1]["path"] == "/apis/apps/v1/namespaces/apps-ns/deployments"

    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web"},
        "target": {"kind": "Node", "name": "n1"},
    }
    client.create("pods", binding, "default", subresource="binding", name="web")
    assert (api.requests[-1]["method"], api.requests[-1]["path"]) == (
        "POST",
        "/api/v1/namespaces/default/pods/web/binding",
    )

    client.delete("pods", "web", propagation_policy="Background", grace_period_seconds=0)
    r = api.requests[-1]
    assert (r["method"], r["path"]) == ("DELETE", "/api/v1/namespaces/default/pods/web")
    assert r["params"] == {"propagationPolicy": "Background", "gracePeriodSeconds": "0"}
    assert r["body"] == {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "propagationPolicy": "Background",
        "gracePeriodSeconds": 0,
    }


@pytest.mark.parametrize(
    ("patch_type", "content_type", "params"),
    [
        ("merge", "application/merge-patch+json", {}),
        ("strategic", "application/strategic-merge-patch+json", {}),
        ("json", "application/json-patch+json", {}),
        ("apply", "application/apply-patch+yaml", {"fieldManager": "kubelab"}),
    ],
)
def test_patch_content_types(
    client: Client, api: FakeApi, patch_type: str, content_type: str, params: dict[str, str]
) -> None:
    client.create("pods", pod("p"))
    body: Any = (
        [{"op": "add", "path": "/metadata/labels/x", "value": "1"}]
        if patch_type == "json"
        else {"metadata": {"labels": {"x": "1"}}}
    )
    client.patch("pods", "p", body, patch_type=patch_type, subresource="status")
    r = api.requests[-1]
    assert (r["method"], r["path"]) == ("PATCH", "/api/v1/namespaces/default/pods/p/status")
    assert r["content_type"] == content_type
    assert r["params"] == params
    assert r["body"] == body


def test_unknown_patch_type_and_resource(client: Client) -> None:
    with pytest.raises(ValueError, match="unknown patch_type"):
        client.patch("pods", "p", {}, patch_type="bogus")
    with pytest.raises(ApiError, match='resource type "widgets"') as e:
        client.get("widgets", "w")
    assert e.value.code == 404


def test_list_selectors_and_params(client: Client, api: FakeApi) -> None:
    client.list(
        "pods",
        label_selector="app=web",
        field_selector="spec.nodeName=n1",
        limit=5,
        resource_version="0",
    )
    r = api.requests[-1]
    assert r["path"] == "/api/v1/pods"  # namespace None lists all namespaces
    assert r["params"] == {
        "labelSelector": "app=web",
        "fieldSelector": "spec.nodeName=n1",
        "limit": "5",
        "resourceVersion": "0",
    }


# -- errors -----------------------------------------------------------------------------


def test_status_becomes_api_error(client: Client) -> None:
    with pytest.raises(ApiError) as e:
        client.get("pods", "missing")
    assert (e.value.code, e.value.reason, e.value.name) == (404, "NotFound", "missing")
    assert 'pods "missing" not found' in str(e.value)

    client.create("pods", pod("dup"))
    with pytest.raises(ApiError) as e:
        client.create("pods", pod("dup"))
    assert (e.value.code, e.value.reason) == (409, "AlreadyExists")

    stale = client.get("pods", "dup")
    client.patch("pods", "dup", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(ApiError) as e:
        client.replace("pods", "dup", stale)
    assert (e.value.code, e.value.reason) == (409, "Conflict")


def test_non_status_error_bodies_and_raw_request(client: Client, url: str) -> None:
    with pytest.raises(ApiError) as e:
        client.request("GET", "/boom")
    assert e.value.code == 500
    assert "database on fire" in e.value.message
    resp = client.request("GET", "/boom", raise_for_status=False)
    assert resp.status_code == 500

    with Client(url, token="wrong") as bad, pytest.raises(ApiError) as e:
        bad.list("pods")
    assert (e.value.code, e.value.reason) == (401, "Unauthorized")


def test_unreachable_server_message() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with Client(f"https://127.0.0.1:{port}") as c, pytest.raises(ServerUnreachable) as e:
        c.list("pods")
    assert isinstance(e.value, ConnectionError)
    assert str(e.value) == (
        f"cannot reach the kubelab API at https://127.0.0.1:{port}: connection refused"
        " — is `kubelab up` running?"
    )

    async def main() -> None:
        async with AsyncClient(f"http://127.0.0.1:{port}") as ac:
            with pytest.raises(ServerUnreachable, match="connection refused"):
                await ac.get("pods", "x")

    arun(main)


# -- paging -----------------------------------------------------------------------------


def test_paging_and_list_all(client: Client, api: FakeApi) -> None:
    for i in range(7):
        api.put("pods", pod(f"p{i}"))
    first = client.list("pods", "default", limit=3)
    assert [o["metadata"]["name"] for o in first["items"]] == ["p0", "p1", "p2"]
    assert first["metadata"]["continue"]
    n = len(api.requests)
    everything = client.list_all("pods", "default", page_size=3)
    assert [o["metadata"]["name"] for o in everything["items"]] == [f"p{i}" for i in range(7)]
    assert everything["metadata"]["resourceVersion"] == "107"
    assert "continue" not in everything["metadata"]
    pages = api.requests[n:]
    assert [r["params"].get("continue") for r in pages] == [None, "3:107", "6:107"]


def test_null_items_become_an_empty_list(client: Client, api: FakeApi) -> None:
    api.null_items = True
    assert client.list("configmaps")["items"] == []


# -- watch ------------------------------------------------------------------------------


def test_sync_watch_events_and_bookmark(client: Client, api: FakeApi) -> None:
    api.put("pods", pod("a"))
    start = api.rv
    api.put("pods", pod("b"))
    api.put("pods", {**pod("a"), "spec": {"x": 1}})
    api.remove("pods", "default", "b")
    events = list(client.watch("pods", "default", resource_version=str(start), timeout_seconds=0))
    assert [(e["type"], e["object"]["metadata"].get("name")) for e in events] == [
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
        ("BOOKMARK", None),
    ]
    assert events[-1]["object"]["metadata"]["resourceVersion"] == str(api.rv)
    r = api.requests[-1]
    assert r["params"] == {
        "watch": "true",
        "resourceVersion": str(start),
        "allowWatchBookmarks": "true",
        "timeoutSeconds": "0",
    }


def test_watch_without_rv_starts_with_current_state(client: Client, api: FakeApi) -> None:
    api.put("pods", pod("a"))
    api.put("pods", pod("b"))
    events = list(client.watch("pods", timeout_seconds=0, allow_bookmarks=False))
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]
    assert "allowWatchBookmarks" not in api.requests[-1]["params"]


@pytest.mark.parametrize("as_event", [False, True])
def test_watch_expired_raises_410(client: Client, api: FakeApi, as_event: bool) -> None:
    api.put("pods", pod("a"))
    api.put("pods", pod("b"))
    api.compact()
    api.expired_as_event = as_event
    with pytest.raises(ApiError) as e:
        list(client.watch("pods", resource_version="101", timeout_seconds=0))
    assert (e.value.code, e.value.reason) == (410, "Expired")

    async def main() -> None:
        async with AsyncClient(client.base_url, token=TOKEN) as ac:
            with pytest.raises(ApiError) as e:
                async for _ in ac.watch("pods", resource_version="101", timeout_seconds=0):
                    pass
            assert (e.value.code, e.value.reason) == (410, "Expired")

    arun(main)


def test_async_watch_sees_live_events(url: str, api: FakeApi) -> None:
    async def main() -> list[tuple[str, str]]:
        async with AsyncClient(url, token=TOKEN) as ac:
            seen: list[tuple[str, str]] = []
            start = str(api.rv)

            async def consume() -> None:
                async for ev in ac.watch("pods", resource_version=start, timeout_seconds=5):
                    seen.append((ev["type"], ev["object"]["metadata"].get("name", "")))
                    if ev["type"] == "DELETED":
                        return

            task = asyncio.create_task(consume())
            await wait_for_async(lambda: api.watch_count == 1, "one open watch", 10)
            api.put("pods", pod("live"))
            api.remove("pods", "default", "live")
            await task
            return seen

    assert arun(main) == [("ADDED", "live"), ("DELETED", "live")]


def test_watch_parses_lines_split_across_chunks() -> None:
    from client.core import LineSplitter, parse_event

    split = LineSplitter()
    raw = b'{"type":"ADDED","object":{"a":1}}\n{"type":"DEL'
    lines = list(split.feed(raw)) + list(split.feed(b'ETED","object":{}}\n\n{"type":"X"}'))
    lines += list(split.flush())
    assert [parse_event(line)["type"] for line in lines] == ["ADDED", "DELETED", "X"]
    with pytest.raises(ApiError, match="malformed watch event"):
        parse_event(b'{"type":"ADDED"')


def test_sync_watch_forever_resumes_relists_and_converges(client: Client, api: FakeApi) -> None:
    api.put("pods", pod("a"))
    api.put("pods", pod("b"))
    # Consume in a thread, so the generator reconnects on its own while the test waits.
    events: queue.Queue[Obj] = queue.Queue()
    stop = threading.Event()

    def consume() -> None:
        gen = client.watch_forever("pods", "default", timeout_seconds=1)
        for ev in gen:
            events.put(ev)
            if stop.is_set():
                break
        gen.close()

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    view: dict[str, Obj] = {}

    def take(n: int) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        while len(out) < n:
            ev = events.get(timeout=10)
            if ev["type"] == "BOOKMARK":
                continue
            key = object_key(ev["object"])
            if ev["type"] == "DELETED":
                view.pop(key, None)
            else:
                view[key] = ev["object"]
            out.append((ev["type"], ev["object"]["metadata"]["name"]))
        return out

    def wait_for_watches(n: int) -> None:
        wait_for(lambda: api.watch_count >= n, f"{n} open watches", 10, interval=0.01)

    assert take(2) == [("ADDED", "a"), ("ADDED", "b")]  # from the initial list
    api.put("pods", pod("c"))
    assert take(1) == [("ADDED", "c")]

    # Changes the watch never sees as events, then a 410 on the open stream.
    wait_for_watches(1)
    api.put("pods", pod("a", changed="yes"))
    api.remove("pods", "default", "b")
    api.put("pods", pod("d"))
    api.compact()
    with api.lock:
        api.log.clear()  # compacted away: only a relist can reveal them
    api.expire_open_watches()
    assert sorted(take(3)) == [("ADDED", "d"), ("DELETED", "b"), ("MODIFIED", "a")]
    assert sorted(view) == ["default/a", "default/c", "default/d"]
    assert view["default/a"]["metadata"]["labels"] == {"changed": "yes"}

    # A dropped connection is resumed from the last RV: nothing lost, nothing repeated.
    wait_for_watches(2)
    watches = api.watch_count
    api.put("pods", pod("e"))
    assert take(1) == [("ADDED", "e")]
    api.drop_open_watches()
    api.put("pods", pod("f"))
    assert take(1) == [("ADDED", "f")]
    wait_for_watches(watches + 1)  # it did reconnect
    api.put("pods", pod("g"))
    assert take(1) == [("ADDED", "g")]
    stop.set()
    api.put("pods", pod("h"))
    consumer.join(10)
    assert not consumer.is_alive()
    lists = [r for r in api.requests if r["params"].get("watch") != "true"]
    assert len(lists) == 2  # the initial list and the one after the 410; a drop doesn't relist


def test_async_watch_forever_resumes_after_timeout(url: str, api: FakeApi) -> None:
    async def main() -> list[str]:
        async with AsyncClient(url, token=TOKEN) as ac:
            names: list[str] = []
            agen = ac.watch_forever("pods", timeout_seconds=0)
            api.put("pods", pod("x"))
            async for ev in agen:
                if ev["type"] != "BOOKMARK":
                    names.append(ev["object"]["metadata"]["name"])
                if len(names) == 1 and api.watch_count >= 3:
                    api.put("pods", pod("y"))  # arrives several stream restarts later
                if len(names) == 2:
                    break
            await agen.aclose()
            return names

    assert arun(main) == ["x", "y"]


# -- logs -------------------------------------------------------------------------------


def test_logs(client: Client, api: FakeApi) -> None:
    assert client.log("p", "default", container="c", tail_lines=10) == "one\ntwo\n"
    assert api.requests[-1]["path"] == "/api/v1/namespaces/default/pods/p/log"
    assert api.requests[-1]["params"] == {"container": "c", "tailLines": "10"}
    lines = list(client.stream_log("p", timestamps=True))
    assert lines == ["alpha\n", "beta\n", "gamma\n"]
    assert api.requests[-1]["params"] == {"follow": "true", "timestamps": "true"}


# -- informer ---------------------------------------------------------------------------


def test_informer_pages_syncs_and_follows(url: str, api: FakeApi) -> None:
    for i in range(5):
        api.put("pods", pod(f"p{i}", app="web"))
    api.put("pods", pod("other", app="db"))

    async def main() -> None:
        async with AsyncClient(url, token=TOKEN) as ac:
            inf = Informer(ac, "pods", label_selector="app=web", page_size=2, watch_timeout=1)
            log: list[tuple[str, str]] = []
            inf.add_handler(
                on_add=lambda o: log.append(("add", o["metadata"]["name"])),
                on_update=lambda old, new: log.append(("update", new["metadata"]["name"])),
                on_delete=lambda o: log.append(("delete", o["metadata"]["name"])),
            )
            task = asyncio.create_task(inf.run())
            await inf.wait_synced(10)
            assert sorted(inf.keys()) == [f"default/p{i}" for i in range(5)]
            lists = [r for r in api.requests if r["params"].get("watch") != "true"]
            assert [r["params"].get("limit") for r in lists] == ["2", "2", "2"]
            assert inf.get("default/p0") is not None and inf.get("default/other") is None

            api.put("pods", pod("p0", app="web", v="2"))
            api.remove("pods", "default", "p1")
            api.put("pods", pod("p9", app="web"))
            await wait_for_async(lambda: len(log) == 8, "eight log entries", 10)
            assert log[5:] == [("update", "p0"), ("delete", "p1"), ("add", "p9")]
            assert inf.get("default/p0")["metadata"]["labels"]["v"] == "2"  # type: ignore[index]

            # A replayed older version must not overwrite the cache.
            stale = copy.deepcopy(inf.get("default/p2"))
            assert stale is not None
            stale["metadata"]["resourceVersion"] = "1"
            stale["metadata"]["labels"]["stale"] = "yes"
            api.inject({"type": "MODIFIED", "object": stale})
            api.put("pods", pod("marker", app="web"))
            await wait_for_async(
                lambda: inf.get("default/marker") is not None,
                "the marker pod in the cache",
                10,
            )
            assert "stale" not in inf.get("default/p2")["metadata"]["labels"]  # type: ignore[index]
            assert ("update", "p2") not in log

            inf.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    arun(main)


def test_informer_relists_on_410_and_reconnects_after_drop(url: str, api: FakeApi) -> None:
    api.put("pods", pod("a"))
    api.put("pods", pod("b"))

    async def main() -> None:
        async with AsyncClient(url, token=TOKEN) as ac:
            factory = InformerFactory(ac)
            inf = factory.informer("pods")
            assert factory.informer("po") is inf  # shared per resource
            events: list[tuple[str, str]] = []
            inf.add_handler(
                on_add=lambda o: events.append(("add", o["metadata"]["name"])),
                on_update=lambda old, new: events.append(("update", new["metadata"]["name"])),
                on_delete=lambda o: events.append(("delete", o["metadata"]["name"])),
            )
            factory.start()
            await factory.wait_synced(10)
            await wait_for_async(lambda: api.watch_count == 1, "one open watch", 10)

            api.put("pods", pod("a", changed="1"))
            api.remove("pods", "default", "b")
            api.put("pods", pod("c"))
            api.compact()
            with api.lock:
                api.log.clear()
            api.expire_open_watches()
            await wait_for_async(
                lambda: inf.relists == 1 and inf.get("default/c") is not None,
                "one relist and pod c in the cache",
                10,
            )
            assert sorted(inf.keys()) == ["default/a", "default/c"]
            assert sorted(events[2:]) == [("add", "c"), ("delete", "b"), ("update", "a")]

            api.drop_open_watches()
            api.put("pods", pod("d"))
            await wait_for_async(lambda: inf.get("default/d") is not None, "pod d in the cache", 10)
            assert events.count(("add", "d")) == 1
            assert inf.relists == 1  # a drop resumes, it does not relist

            # A late handler is told about everything already cached.
            late: list[str] = []
            inf.add_handler(on_add=lambda o: late.append(o["metadata"]["name"]))
            assert sorted(late) == ["a", "c", "d"]
            await factory.stop()

    arun(main)


def test_informer_feeding_a_workqueue(url: str, api: FakeApi) -> None:
    """The controller pattern: handlers enqueue keys, workers read the cache."""
    for i in range(3):
        api.put("pods", pod(f"w{i}"))

    async def main() -> set[str]:
        async with AsyncClient(url, token=TOKEN) as ac:
            inf = Informer(ac, "pods")
            q = WorkQueue()
            inf.add_handler(
                on_add=lambda o: q.add(object_key(o)),
                on_update=lambda old, new: q.add(object_key(new)),
            )
            task = asyncio.create_task(inf.run())
            await inf.wait_synced(10)
            seen: set[str] = set()
            while len(seen) < 3:
                key = await q.get()
                assert inf.get(key) is not None
                seen.add(key)
                q.done(key)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return seen

    assert arun(main) == {"default/w0", "default/w1", "default/w2"}


def _strip_image(obj: Obj) -> Obj:
    """A transform for the tests: drops the containers' image, marks the object."""
    out = copy.deepcopy(obj)
    for c in out.get("spec", {}).get("containers", []):
        c.pop("image", None)
    out["metadata"]["labels"]["transformed"] = "yes"
    return out


def test_informer_transform_applies_to_list_watch_and_relist(url: str, api: FakeApi) -> None:
    """Every object, listed, watched or relisted, is transformed before the cache and the
    handlers see it."""
    api.put("pods", pod("a"))
    api.put("pods", pod("b"))

    def untransformed(o: Obj) -> bool:
        return o["metadata"]["labels"].get("transformed") != "yes" or any(
            "image" in c for c in o["spec"]["containers"]
        )

    async def main() -> None:
        async with AsyncClient(url, token=TOKEN) as ac:
            factory = InformerFactory(ac)
            inf = factory.informer("pods", transform=_strip_image)
            assert inf.transform is _strip_image
            assert factory.informer("pods") is inf  # no transform named: the shared one
            with pytest.raises(ValueError):
                factory.informer("pods", transform=lambda o: o)
            seen: list[Obj] = []
            inf.add_handler(
                on_add=seen.append,
                on_update=lambda old, new: seen.extend((old, new)),
                on_delete=seen.append,
            )
            factory.start()
            await factory.wait_synced(10)
            await wait_for_async(lambda: api.watch_count == 1, "one open watch", 10)

            api.put("pods", pod("a", changed="1"))  # MODIFIED by watch
            api.put("pods", pod("w"))  # ADDED by watch
            api.remove("pods", "default", "b")  # DELETED by watch
            await wait_for_async(lambda: len(seen) == 6, "six events seen", 10)
            assert inf.get("default/a")["metadata"]["labels"]["changed"] == "1"  # type: ignore[index]

            api.put("pods", pod("a", changed="2"))
            api.put("pods", pod("r"))
            api.compact()
            with api.lock:
                api.log.clear()
            api.expire_open_watches()
            await wait_for_async(
                lambda: inf.relists == 1 and inf.get("default/r") is not None,
                "one relist and pod r in the cache",
                10,
            )
            assert sorted(inf.keys()) == ["default/a", "default/r", "default/w"]
            assert inf.get("default/a")["metadata"]["labels"]["changed"] == "2"  # type: ignore[index]

            assert len(seen) == 9 and not [o for o in seen if untransformed(o)]
            assert not [o for o in inf.list() if untransformed(o)]
            await factory.stop()

    arun(main)


# -- transport retry --------------------------------------------------------------------


class DropFirstServer:
    """A raw HTTP server that closes the first connection without answering (as a server
    that restarted does to a kept-alive connection), then answers normally."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.connections += 1
                conn.recv(65536)
                if self.connections == 1:
                    continue  # close without a response
                body = b'{"kind":"Pod","metadata":{"name":"p"}}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
                )

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


def test_get_is_retried_once_after_a_silent_disconnect_but_writes_are_not() -> None:
    srv = DropFirstServer()
    try:
        with Client(f"http://127.0.0.1:{srv.port}") as c:
            assert c.get("pods", "p")["metadata"]["name"] == "p"
            assert srv.connections == 2
    finally:
        srv.close()

    srv = DropFirstServer()
    try:
        with Client(f"http://127.0.0.1:{srv.port}") as c, pytest.raises(ServerUnreachable):
            c.create("pods", pod("p"))
        assert srv.connections == 1
    finally:
        srv.close()

    srv = DropFirstServer()

    async def main() -> None:
        async with AsyncClient(f"http://127.0.0.1:{srv.port}") as ac:
            assert (await ac.get("pods", "p"))["metadata"]["name"] == "p"

    try:
        arun(main)
        assert srv.connections == 2
    finally:
        srv.close()
