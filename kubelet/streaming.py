"""The kubelet's exec and attach endpoints: a runtime's StreamSession over a WebSocket
speaking the remote command channel protocols (api/remotecommand.py).

    WS /exec/NS/POD/CONTAINER?command=..&stdin&stdout&stderr&tty
    WS /attach/NS/POD/CONTAINER?stdin&stdout&stderr&tty

Only the apiserver reaches these: the handshake carries the secret it shares with its
kubelets, checked before anything else (a refused handshake answers a Status). Once
open, as Kubernetes' kubelet does: an empty frame on the lowest output channel says the
streams are up; stdin, resize and v5's close frames go to the process; its output goes
out on stdout and stderr; when it ends, the error channel carries the exit Status and the
WebSocket closes normally.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from api import remotecommand as rc
from api.errors import ApiError
from kubelet.runtime.base import ContainerRuntime, RuntimeError_, StreamRequest, StreamSession

log = logging.getLogger(__name__)

Authorized = Callable[[str], bool]  # the Authorization header -> the apiserver's?
FindContainer = Callable[[str, str, str], str]  # (namespace, pod, container) -> id; ApiError


async def refuse(ws: WebSocket, err: ApiError) -> None:
    """Answer the handshake with ``err``'s Status instead of upgrading."""
    await ws.send_denial_response(JSONResponse(err.to_status(), status_code=err.code))


async def serve(
    ws: WebSocket,
    authorized: Authorized,
    find: FindContainer,
    runtime: ContainerRuntime,
    subresource: str,
) -> None:
    """One exec or attach WebSocket, from handshake to close."""
    if not authorized(ws.headers.get("authorization", "")):
        await refuse(ws, ApiError(401, "Unauthorized: the kubelet needs the apiserver's secret"))
        return
    p = ws.path_params
    try:
        opts = rc.stream_options(ws.query_params, subresource)
        cid = find(p["namespace"], p["pod"], p["container"])
    except ApiError as e:
        await refuse(ws, e)
        return
    protocol = rc.negotiate(list(ws.scope.get("subprotocols") or []))
    if protocol is None:
        await refuse(
            ws,
            ApiError(
                400,
                f"requested protocol(s) are not supported: {ws.scope.get('subprotocols')}; "
                f"supports {list(rc.PROTOCOLS)}",
                "BadRequest",
            ),
        )
        return
    streams = StreamRequest(opts.stdin, opts.stdout, opts.stderr and not opts.tty, opts.tty)

    async def open_session() -> StreamSession:
        if subresource == "exec":
            return await runtime.exec_stream(cid, list(opts.command), streams)
        return await runtime.attach(cid, streams)

    await ws.accept(subprotocol=protocol or None)
    await bridge(ws, rc.ChannelCodec(protocol), open_session, streams, list(opts.command))


async def bridge(
    ws: WebSocket,
    codec: rc.ChannelCodec,
    open_session: Callable[[], Awaitable[StreamSession]],
    streams: StreamRequest,
    command: list[str],
) -> None:
    """Run the session on the open WebSocket until the process ends or the client goes."""
    try:
        session = await open_session()
    except (RuntimeError_, OSError) as e:
        # Could not start (no such executable under the fake, container gone): the error
        # channel says so, as the kubelet's "error executing command in container".
        await _send(ws, codec, rc.ERROR, codec.error_payload(f"error executing command: {e}"))
        await _close(ws)
        return
    # An empty frame on the lowest output channel: the streams are up (kubelet does this).
    first = rc.STDOUT if streams.stdout else rc.STDERR if streams.stderr else rc.ERROR
    await _send(ws, codec, first, b"")
    inbound = asyncio.create_task(_from_client(ws, codec, session), name="stream-in")
    try:
        outbound = asyncio.create_task(_to_client(ws, codec, session, command))
        done, _ = await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
        if outbound in done:
            outbound.result()
            await _close(ws)
        else:
            outbound.cancel()  # the client went: nobody to tell the exit code to
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await outbound
    except (WebSocketDisconnect, RuntimeError, OSError) as e:
        log.debug("stream ended early: %s", e)
    finally:
        inbound.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await inbound
        await session.close()


async def _from_client(ws: WebSocket, codec: rc.ChannelCodec, session: StreamSession) -> None:
    """Client frames to the process: stdin, resize, v5's close of stdin."""
    while True:
        msg = await ws.receive()
        if msg["type"] == "websocket.disconnect":
            await session.close_stdin()
            return
        raw = msg.get("bytes")
        try:
            frame = codec.decode(raw if raw is not None else msg.get("text") or b"")
        except ValueError as e:
            log.info("dropping a malformed stream frame: %s", e)
            continue
        if frame is None:
            continue
        if frame.close:
            if frame.channel == rc.STDIN:
                await session.close_stdin()
        elif frame.channel == rc.STDIN:
            await session.write(frame.data)
        elif frame.channel == rc.RESIZE:
            try:
                width, height = rc.parse_resize(frame.data)
            except ValueError as e:
                log.info("ignoring a resize frame: %s", e)
                continue
            await session.resize(width, height)


async def _to_client(
    ws: WebSocket, codec: rc.ChannelCodec, session: StreamSession, command: list[str]
) -> None:
    """The process's output to the client, then its exit Status on the error channel."""
    while True:
        out = await session.read()
        if out is None:
            break
        await _send(ws, codec, out[0], out[1])
    code = await session.exit_code()
    payload = codec.exit_payload(code, command)
    if payload:
        await _send(ws, codec, rc.ERROR, payload)


async def _send(ws: WebSocket, codec: rc.ChannelCodec, channel: int, data: bytes) -> None:
    message = codec.encode(channel, data)
    if isinstance(message, str):
        await ws.send_text(message)
    else:
        await ws.send_bytes(message)


async def _close(ws: WebSocket) -> None:
    with contextlib.suppress(RuntimeError, WebSocketDisconnect, OSError):
        await ws.close(1000)
