"""kubectl's port-forward: a SPDY/3.1 session (api/spdy.py) whose stream pairs
(api/spdy_portforward.py) the apiserver relays to the pod's kubelet.

kubectl 1.35 opens a WebSocket with the subprotocol ``SPDY/3.1+portforward.k8s.io`` and
then speaks SPDY inside its binary messages. The apiserver is the SPDY server: it answers
every SYN_STREAM with a SYN_REPLY, echoes PINGs, and for each complete pair (one TCP
connection kubectl accepted) opens one WebSocket to the kubelet's port-forward endpoint
for that port (``v4.channel.k8s.io``, the protocol the kubelet already speaks), copying the
data stream to its data channel and back; what the kubelet says on the error channel goes
to the error stream. The forward ends as Kubernetes' runtimes end it: when either side
finishes, both streams are closed (FIN), the error stream after its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from api import remotecommand as rc
from api import spdy
from api.errors import ApiError
from api.spdy_portforward import PairError, StreamPair, StreamPairs

log = logging.getLogger(__name__)

# (port) -> an open WebSocket to the kubelet forwarding that port of the pod.
OpenPort = Callable[[int], Awaitable[ClientConnection]]


class PortForwardSession:
    """One SPDY session carried by one client WebSocket."""

    def __init__(self, ws: WebSocket, open_port: OpenPort, pod: str) -> None:
        self.ws = ws
        self.open_port = open_port
        self.pod = pod
        self._writer = spdy.FrameWriter()
        self._lock = asyncio.Lock()  # frames leave whole and in compression order
        self._pairs = StreamPairs()
        self._inboxes: dict[int, asyncio.Queue[bytes | None]] = {}  # data stream -> bytes
        self._tasks: dict[int, asyncio.Task[None]] = {}  # data and error stream -> forward

    async def send(self, *frames: spdy.Frame) -> None:
        async with self._lock:
            wire = b"".join(self._writer.encode(f) for f in frames)
            await self.ws.send_bytes(wire)

    async def run(self) -> None:
        """Read frames until the client goes away; then stop every forward."""
        reader = spdy.FrameReader()
        try:
            while True:
                msg = await self.ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
                reader.feed(msg.get("bytes") or (msg.get("text") or "").encode())
                for frame in reader.frames():
                    if not await self._on_frame(frame):
                        return
        except spdy.SpdyError as e:
            log.info("port-forward to %s: a malformed SPDY stream: %s", self.pod, e)
            with contextlib.suppress(Exception):
                await self.send(spdy.GoAway(0, spdy.GOAWAY_PROTOCOL_ERROR))
        except (WebSocketDisconnect, RuntimeError, OSError) as e:
            log.debug("port-forward to %s ended: %s", self.pod, e)
        finally:
            for task in set(self._tasks.values()):
                task.cancel()
            for task in set(self._tasks.values()):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _on_frame(self, frame: spdy.Frame) -> bool:
        """Act on one frame; False when the session is over (GOAWAY)."""
        if isinstance(frame, spdy.SynStream):
            await self._on_stream(frame)
        elif isinstance(frame, spdy.DataFrame):
            inbox = self._inboxes.get(frame.stream_id)
            if inbox is not None:  # bytes on an error stream (kubectl sends none) are dropped
                if frame.data:
                    inbox.put_nowait(frame.data)
                if frame.fin:
                    inbox.put_nowait(None)
        elif isinstance(frame, spdy.RstStream):
            task = self._tasks.get(frame.stream_id)
            if task is not None:
                task.cancel()
        elif isinstance(frame, spdy.Ping):
            await self.send(frame)  # the peer's ping, echoed as the spec says
        elif isinstance(frame, spdy.GoAway):
            return False
        # SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do (no flow-control windows are kept,
        # as kubectl's spdystream keeps none).
        return True

    async def _on_stream(self, frame: spdy.SynStream) -> None:
        try:
            pair = self._pairs.add(frame.stream_id, frame.headers)
        except PairError as e:
            log.info("port-forward to %s: stream %d refused: %s", self.pod, frame.stream_id, e)
            await self.send(spdy.RstStream(frame.stream_id, spdy.REFUSED_STREAM))
            return
        await self.send(spdy.SynReply(frame.stream_id))
        if pair is None:
            return
        assert pair.data_id is not None and pair.error_id is not None
        inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._inboxes[pair.data_id] = inbox
        task = asyncio.create_task(self._forward(pair, inbox), name=f"pf-{pair.request_id}")
        self._tasks[pair.data_id] = self._tasks[pair.error_id] = task

    async def _forward(self, pair: StreamPair, inbox: asyncio.Queue[bytes | None]) -> None:
        assert pair.data_id is not None and pair.error_id is not None
        error = b""
        try:
            error = await self._relay(pair, inbox)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the pair ends; the session and other pairs go on
            error = f"error forwarding port {pair.port} to pod {self.pod}: {e}".encode()
        finally:
            self._inboxes.pop(pair.data_id, None)
            self._tasks.pop(pair.data_id, None)
            self._tasks.pop(pair.error_id, None)
        with contextlib.suppress(Exception):
            await self.send(
                spdy.DataFrame(pair.data_id, b"", fin=True),
                spdy.DataFrame(pair.error_id, error, fin=True),
            )

    async def _relay(self, pair: StreamPair, inbox: asyncio.Queue[bytes | None]) -> bytes:
        """Copy between the data stream and a kubelet WebSocket for ``pair.port``; what
        the kubelet said on the error channel."""
        assert pair.data_id is not None
        try:
            upstream = await self.open_port(pair.port)
        except ApiError as e:
            return f"error forwarding port {pair.port} to pod {self.pod}: {e.message}".encode()
        codec = rc.ChannelCodec(upstream.subprotocol or "")
        error = bytearray()

        async def to_pod() -> None:
            while (data := await inbox.get()) is not None:
                await upstream.send(codec.encode(0, data))

        async def from_pod() -> None:
            seen: set[int] = set()  # each channel opens with the port (2 bytes): skipped
            with contextlib.suppress(ConnectionClosed):
                async for message in upstream:
                    frame = codec.decode(message)
                    if frame is None or frame.close:
                        continue
                    if frame.channel not in seen:
                        seen.add(frame.channel)
                        continue
                    if frame.channel == 0:
                        await self.send(spdy.DataFrame(pair.data_id or 0, frame.data))
                    else:
                        error.extend(frame.data)

        up = asyncio.create_task(to_pod(), name="pf-up")
        down = asyncio.create_task(from_pod(), name="pf-down")
        try:
            await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
            if up.done() and not down.done():
                # kubectl is done sending: end the forward, as the runtimes do, but first
                # give the pod's answer already on its way a moment to arrive.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(down), 0.5)
        finally:
            for task in (up, down):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await upstream.close()
        return bytes(error)
