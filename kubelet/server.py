"""The kubelet's own HTTP(S) server: container logs, exec and attach, for the apiserver only.

    GET  /containerLogs/NS/POD/CONTAINER?follow&tailLines&previous&timestamps&sinceSeconds
         &limitBytes
    POST /exec/NS/POD/CONTAINER   {"command": [...]} → {"stdout", "stderr", "exitCode"}
    WS   /exec/NS/POD/CONTAINER?command&stdin&stdout&stderr&tty    (kubelet/streaming.py)
    WS   /attach/NS/POD/CONTAINER?stdin&stdout&stderr&tty
    WS   /portForward/NS/POD?ports=P1,P2                         (kubelet/streaming_portforward.py)
    GET  /healthz

Every request but /healthz needs ``Authorization: Bearer <secret>`` with the secret the
apiserver shares with its kubelets (``--kubelet-secret-file``). Errors are Kubernetes
``Status`` bodies, which the apiserver passes through to the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from api.errors import ApiError
from kubelet import streaming
from kubelet.resource_metrics import CONTENT_TYPE as RESOURCE_CONTENT_TYPE
from kubelet.resource_metrics import Readings
from kubelet.resource_metrics import render as render_resource_metrics
from kubelet.runtime.base import ContainerRuntime
from kubelet.streaming_portforward import serve_portforward
from kubelet.worker import PodWorker

log = logging.getLogger(__name__)

PodLookup = Callable[[str, str], PodWorker | None]

_TRUE = ("1", "true", "True", "yes")


def _status(err: ApiError) -> JSONResponse:
    return JSONResponse(err.to_status(), status_code=err.code)


def _whole(q: Any, name: str, minimum: int) -> int | None:
    """An optional whole-number query parameter of at least ``minimum``."""
    raw = q.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ApiError(
            400,
            f"{name}: Invalid value: {raw!r}: must be a whole number of at least {minimum}",
            "BadRequest",
        )
    return value


async def _limited(stream: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The first ``limit`` bytes of a log stream (``limitBytes`` with ``follow``)."""
    left = limit
    try:
        async for chunk in stream:
            yield chunk[:left]
            left -= len(chunk)
            if left <= 0:
                break
    finally:
        # Close the engine's log stream now, not whenever the generator is collected.
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def make_app(
    lookup: PodLookup,
    runtime: ContainerRuntime,
    secret: str | None,
    readings: Callable[[str], Readings | None] | None = None,
) -> Starlette:
    """The ASGI app; ``lookup(namespace, pod)`` finds the worker of a pod on this node;
    ``readings(node)`` its latest usage for /metrics/resource (LookupError: not a node here)."""

    def authorized_header(header: str) -> bool:
        if not secret:
            return False  # no shared secret configured: nobody may read logs or exec
        return hmac.compare_digest(header.encode(), f"Bearer {secret}".encode())

    def authorized(request: Request) -> bool:
        return authorized_header(request.headers.get("authorization", ""))

    def find(request: Request, previous: bool = False) -> tuple[PodWorker, str]:
        p = request.path_params
        return find_container(p["namespace"], p["pod"], p["container"], previous)

    def find_container(
        ns: str, pod: str, container: str, previous: bool = False
    ) -> tuple[PodWorker, str]:
        worker = lookup(ns, pod)
        if worker is None:
            raise ApiError(
                404,
                f'pod "{pod}" in namespace "{ns}" is not running on this node',
                name=pod,
                kind="pods",
            )
        cid = worker.container_id(container, previous=previous)
        if cid is None:
            if previous:
                raise ApiError(
                    400,
                    f'previous terminated container "{container}" in pod "{pod}" not found',
                    "BadRequest",
                )
            raise ApiError(
                400,
                f'container "{container}" in pod "{pod}" is waiting to start: '
                "it has not been created yet",
                "BadRequest",
            )
        return worker, cid

    async def container_logs(request: Request) -> Response:
        if not authorized(request):
            return _status(ApiError(401, "Unauthorized: the kubelet needs the apiserver's secret"))
        q = request.query_params
        try:
            _, cid = find(request, previous=q.get("previous", "") in _TRUE)
            tail = _whole(q, "tailLines", 0)
            since_seconds = _whole(q, "sinceSeconds", 1)
            limit = _whole(q, "limitBytes", 1)
        except ApiError as e:
            return _status(e)
        timestamps = q.get("timestamps", "") in _TRUE
        since = time.time() - since_seconds if since_seconds is not None else None
        if q.get("follow", "") in _TRUE:
            stream = runtime.stream_logs(cid, tail=tail, timestamps=timestamps, since=since)
            if limit is not None:
                stream = _limited(stream, limit)
            return StreamingResponse(stream, media_type="text/plain")
        data = await runtime.logs(cid, tail=tail, timestamps=timestamps, since=since)
        return Response(data if limit is None else data[:limit], media_type="text/plain")

    async def exec_command(request: Request) -> Response:
        if not authorized(request):
            return _status(ApiError(401, "Unauthorized: the kubelet needs the apiserver's secret"))
        try:
            body = await request.json()
        except ValueError:
            body = None
        command = body.get("command") if isinstance(body, dict) else None
        if not isinstance(command, list) or not command:
            return _status(ApiError(400, 'exec needs a JSON body {"command": ["cmd", "arg"]}'))
        try:
            _, cid = find(request)
        except ApiError as e:
            return _status(e)
        timeout = float(body.get("timeout") or 300) if isinstance(body, dict) else 300.0
        try:
            result = await runtime.exec(cid, [str(c) for c in command], timeout)
        except Exception as e:  # noqa: BLE001 - report the runtime's error to the user
            return _status(ApiError(500, f"exec failed: {e}"))
        return JSONResponse(
            {
                "stdout": result.stdout.decode(errors="replace"),
                "stderr": result.stderr.decode(errors="replace"),
                "exitCode": result.exit_code,
            }
        )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    def stream_route(subresource: str) -> WebSocketRoute:
        async def endpoint(ws: WebSocket) -> None:
            await streaming.serve(
                ws,
                authorized_header,
                lambda ns, pod, container: find_container(ns, pod, container)[1],
                runtime,
                subresource,
            )

        return WebSocketRoute(f"/{subresource}/{{namespace}}/{{pod}}/{{container}}", endpoint)

    def pod_container(ns: str, pod: str) -> str:
        """A running container of the pod: all of them share its network namespace."""
        worker = lookup(ns, pod)
        for c in worker.app_containers() if worker is not None else []:
            cid = worker.container_id(c["name"]) if worker is not None else None
            if cid is not None:
                return cid
        raise ApiError(
            400 if worker is not None else 404,
            f'pod "{pod}" in namespace "{ns}" has no running container on this node to '
            "forward ports into",
            "BadRequest" if worker is not None else "NotFound",
        )

    async def portforward(ws: WebSocket) -> None:
        await serve_portforward(ws, authorized_header, pod_container, runtime)

    async def metrics_resource(request: Request) -> Response:
        if not authorized(request):
            return _status(ApiError(401, "Unauthorized: the kubelet needs the apiserver's secret"))
        node = request.query_params.get("node", "")
        try:
            if readings is None:
                raise LookupError(node)
            got = readings(node)
        except LookupError:
            return _status(
                ApiError(404, f'node "{node}" is not served by this kubelet', "NotFound")
            )
        return Response(render_resource_metrics(got), media_type=RESOURCE_CONTENT_TYPE)

    routes = [
        Route("/healthz", healthz),
        Route("/metrics/resource", metrics_resource),
        Route("/containerLogs/{namespace}/{pod}/{container}", container_logs),
        Route("/exec/{namespace}/{pod}/{container}", exec_command, methods=["POST"]),
        stream_route("exec"),
        stream_route("attach"),
        WebSocketRoute("/portForward/{namespace}/{pod}", portforward),
    ]
    return Starlette(routes=routes)


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the kubelet decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class KubeletServer:
    """Runs the app on ``address:port`` (port 0: a free one), HTTP or HTTPS."""

    def __init__(
        self,
        app: Any,
        address: str,
        port: int,
        certfile: str | None = None,
        keyfile: str | None = None,
    ) -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: an exec stream's small frames go out at once
        # instead of waiting out the peer's delayed ACK (Nagle: +40 ms per exec).
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.bind((address, port))
        self.port = int(self.sock.getsockname()[1])
        self.scheme = "https" if certfile else "http"
        config = uvicorn.Config(
            app,
            log_level="warning",
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self.server = _QuietServer(config)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(
            self.server.serve(sockets=[self.sock]), name="kubelet-server"
        )

    async def stop(self) -> None:
        self.server.should_exit = True
        self.server.force_exit = True  # do not wait for the apiserver's idle keep-alives
        if self.task is not None:
            try:
                await asyncio.wait_for(self.task, 3)
            except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001
                self.task.cancel()
        self.sock.close()
