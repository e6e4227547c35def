"""The kubelet's Service proxy as the activator (issue 20 item 3), its userspace path,
against a real apiserver: a connection to a Service with the activator mark and no ready
endpoint is held and reported on the node (``kubelab.io/service-activity``), forwarded
with what the client already sent once an endpoint appears; at its timeout an HTTP
request gets a 503 and anything else a closed connection. (The kernel path's redirect to
a holding listener: tests/e2e/test_scale_to_zero_docker.py.)"""

from __future__ import annotations

import asyncio
import time

from api.scaletozero import ACTIVATOR, ActivatorMark, activator_mark, node_activity
from kubelet.proxy import ServiceProxy
from tests.harness import ApiServer, free_port
from tests.wait import wait_for_async

NODE = "activator-node"
REQUEST = b"GET /v1/models HTTP/1.1\r\nHost: llm\r\n\r\n"


async def _echo_backend() -> tuple[asyncio.base_events.Server, int]:
    """Answers each connection with what it first received, as an HTTP 200 body."""

    async def answer(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        got = await r.read(65536)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(got), got))
        await w.drain()
        w.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _send(port: int, data: bytes) -> bytes:
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    w.write(data)
    await w.drain()
    out = await asyncio.wait_for(r.read(), 30)
    w.close()
    return out


def test_a_held_connection_is_forwarded_reported_and_timed_out(apiserver: ApiServer) -> None:
    node_port = 30000 + free_port() % 2700

    async def scenario() -> None:
        client = apiserver.async_client()
        await client.create("nodes", {"metadata": {"name": NODE}}, None)
        mark = ActivatorMark("llm", 60).encode()
        await client.create(
            "services",
            {
                "metadata": {"name": "llm", "annotations": {ACTIVATOR: mark}},
                "spec": {
                    "type": "NodePort",
                    "ports": [{"name": "http", "port": 80, "nodePort": node_port}],
                },
            },
            "default",
        )
        backend, backend_port = await _echo_backend()
        proxy = ServiceProxy(client, "127.0.0.1", node_name=NODE)
        await proxy.start()

        async def activity() -> dict[str, object]:
            return dict(node_activity(await client.get("nodes", NODE)))

        try:
            await wait_for_async(
                lambda: ("127.0.0.1", node_port) in proxy.listening(), "the listener", 10
            )
            held = asyncio.create_task(_send(node_port, REQUEST))
            await asyncio.sleep(0.5)
            assert not held.done()  # no endpoint: held, not refused

            async def waiting() -> bool:
                seen = (await activity()).get("default/llm")
                return seen is not None and getattr(seen, "waiting", 0) == 1

            await wait_for_async(waiting, "the node reporting a waiting connection", 5)
            await client.create(
                "endpoints",
                {
                    "metadata": {"name": "llm"},
                    "subsets": [
                        {
                            "addresses": [{"ip": "127.0.0.1"}],
                            "ports": [{"name": "http", "port": backend_port}],
                        }
                    ],
                },
                "default",
            )
            answer = await asyncio.wait_for(held, 10)
            assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(REQUEST)

            async def released() -> bool:
                seen = (await activity()).get("default/llm")
                return seen is not None and getattr(seen, "waiting", 1) == 0

            await wait_for_async(released, "the node reporting none waiting", 5)

            # No endpoint again, a one-second timeout: a 503 for HTTP, a close otherwise.
            await client.delete("endpoints", "llm", "default")
            short = ActivatorMark("llm", 1).encode()
            await client.patch(
                "services", "llm", {"metadata": {"annotations": {ACTIVATOR: short}}}, "default"
            )
            await wait_for_async(
                lambda: (
                    not proxy.backends_for(
                        next(v.spec for v in proxy._listeners.values() if v.spec.port == node_port)
                    )
                ),
                "the endpoint gone",
                10,
            )
            await wait_for_async(
                lambda: (
                    activator_mark(proxy.services.get("default/llm")) == ActivatorMark("llm", 1)
                ),
                "the proxy seeing the new timeout",
                10,
            )
            t0 = time.monotonic()
            reply = await _send(node_port, REQUEST)
            assert reply.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), reply
            assert b"default/llm has no ready endpoint" in reply
            assert 0.9 <= time.monotonic() - t0 < 5
            assert await _send(node_port, b"\x16\x03\x01 not http") == b""
        finally:
            await proxy.stop()
            backend.close()
            await client.close()

    asyncio.run(scenario())
