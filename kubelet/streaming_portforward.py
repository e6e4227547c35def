"""The kubelet's port-forward endpoint: TCP connections into a pod's network namespace,
carried over one WebSocket as Kubernetes frames them (wsstream's channels, no v5).

    WS /portForward/NS/POD?ports=P1,P2

Port i has the data channel 2i and the error channel 2i+1; each channel's first message
is the port, 2 bytes little-endian. The kubelet connects to each port on the pod's
loopback (runtime.connect_port), copies both ways, writes a failure on the port's error
channel, and closes the WebSocket once every port's connection has ended. Only the
apiserver may open it (the shared secret, as exec).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from api import remotecommand as rc
from api.errors import ApiError
from kubelet.runtime.base import ContainerRuntime, RuntimeError_
from kubelet.streaming import Authorized, refuse

log = logging.getLogger(__name__)

_CHUNK = 64 * 1024

FindPodContainer = Callable[[str, str], str]  # (namespace, pod) -> a running container's id
Send = Callable[[int, bytes], Awaitable[None]]


async def serve_portforward(
    ws: WebSocket,
    authorized: Authorized,
    find_pod_container: FindPodContainer,
    runtime: ContainerRuntime,
) -> None:
    """One port-forward WebSocket; ``find_pod_container(ns, pod)`` is a running
    container's id (every container of a pod shares its network namespace)."""
    if not authorized(ws.headers.get("authorization", "")):
        await refuse(ws, ApiError(401, "Unauthorized: the kubelet needs the apiserver's secret"))
        return
    p = ws.path_params
    try:
        ports = rc.forwarded_ports(ws.query_params)
        cid = find_pod_container(p["namespace"], p["pod"])
    except ApiError as e:
        await refuse(ws, e)
        return
    offered = list(ws.scope.get("subprotocols") or [])
    protocol = rc.negotiate_portforward(offered)
    if protocol is None:
        await refuse(
            ws,
            ApiError(
                400,
                f"requested protocol(s) are not supported: {offered}; supports "
                f"{list(rc.PORTFORWARD_PROTOCOLS)}",
                "BadRequest",
            ),
        )
        return
    codec = rc.ChannelCodec(protocol)
    await ws.accept(subprotocol=protocol or None)
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        message = codec.encode(channel, data)
        async with lock:
            if isinstance(message, str):
                await ws.send_text(message)
            else:
                await ws.send_bytes(message)

    for i, port in enumerate(ports):
        await send(2 * i, rc.port_header(port))
        await send(2 * i + 1, rc.port_header(port))
    inboxes: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]
    forwards = [
        asyncio.create_task(_forward(runtime, cid, port, i, inboxes[i], send))
        for i, port in enumerate(ports)
    ]
    reader = asyncio.create_task(_route(ws, codec, inboxes))

    async def all_forwards() -> None:
        await asyncio.gather(*forwards, return_exceptions=True)

    done = asyncio.create_task(all_forwards())
    try:
        await asyncio.wait({reader, done}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reader, done, *forwards):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
            await ws.close(1000)


async def _route(
    ws: WebSocket, codec: rc.ChannelCodec, inboxes: list[asyncio.Queue[bytes | None]]
) -> None:
    """Client frames to their port's connection (data channels only)."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            for inbox in inboxes:
                inbox.put_nowait(None)
            return
        raw = msg.get("bytes")
        try:
            frame = codec.decode(raw if raw is not None else msg.get("text") or b"")
        except ValueError as e:
            log.info("dropping a malformed port-forward frame: %s", e)
            continue
        if frame is None or frame.close or frame.channel % 2:
            continue
        index = frame.channel // 2
        if index < len(inboxes) and frame.data:
            inboxes[index].put_nowait(frame.data)


async def _forward(
    runtime: ContainerRuntime,
    cid: str,
    port: int,
    index: int,
    inbox: asyncio.Queue[bytes | None],
    send: Send,
) -> None:
    """One port: connect in the pod, copy both ways until either side ends."""
    try:
        reader, writer = await runtime.connect_port(cid, port)
    except (RuntimeError_, OSError) as e:
        message = f"error forwarding port {port} to pod: {e}"
        await send(2 * index + 1, message.encode())
        return

    async def upstream() -> None:
        while (data := await inbox.get()) is not None:
            writer.write(data)
            await writer.drain()
        with contextlib.suppress(OSError):
            writer.write_eof()

    up = asyncio.create_task(upstream())
    try:
        while data := await reader.read(_CHUNK):
            await send(2 * index, data)
    except OSError as e:
        await send(2 * index + 1, f"error forwarding port {port}: {e}".encode())
    finally:
        up.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await up
        writer.close()
