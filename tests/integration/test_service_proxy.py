"""The kubelet's Service proxy against a real apiserver: round robin over the ready
endpoints, a not-ready endpoint gets no new connections, listeners follow the Service."""

from __future__ import annotations

import asyncio
from typing import Any

from kubelet.proxy import ServiceProxy
from tests.harness import ApiServer, free_port
from tests.wait import wait_for_async


async def _backend(name: str) -> tuple[asyncio.base_events.Server, int]:
    async def answer(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.write(name.encode())
        await w.drain()
        w.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _ask(port: int) -> str:
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    data = await asyncio.wait_for(r.read(), 5)
    w.close()
    return data.decode()


def _endpoints(ready: list[int], not_ready: list[int]) -> list[dict[str, Any]]:
    return [
        {
            "addresses": [{"ip": "127.0.0.1"}] if p in ready else [],
            "notReadyAddresses": [{"ip": "127.0.0.1"}] if p in not_ready else [],
            "ports": [{"name": "http", "port": p}],
        }
        for p in ready + not_ready
    ]


def test_round_robin_over_ready_endpoints_and_not_ready_dropped(apiserver: ApiServer) -> None:
    node_port = 30000 + free_port() % 2700

    async def scenario() -> None:
        client = apiserver.async_client()
        backends = [await _backend(n) for n in ("a", "b", "c")]
        ports = [p for _, p in backends]
        # A selector-less Service: its Endpoints are ours to write (no controller here).
        await client.create(
            "services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web"},
                "spec": {
                    "type": "NodePort",
                    "ports": [{"name": "http", "port": 80, "nodePort": node_port}],
                },
            },
            "default",
        )
        await client.create(
            "endpoints",
            {
                "apiVersion": "v1",
                "kind": "Endpoints",
                "metadata": {"name": "web"},
                "subsets": _endpoints(ports, []),
            },
            "default",
        )
        proxy = ServiceProxy(client, "127.0.0.1")
        await proxy.start()
        try:
            await wait_for_async(
                lambda: ("127.0.0.1", node_port) in proxy.listening(),
                "the NodePort listener",
                10,
            )
            answers = [await _ask(node_port) for _ in range(6)]
            assert sorted(answers) == ["a", "a", "b", "b", "c", "c"]
            assert proxy.service_env("default")["WEB_SERVICE_PORT"] == str(node_port)
            assert proxy.service_env("other") == {}

            # "b" turns not-ready: from the Endpoints update on, it gets nothing new.
            await client.patch(
                "endpoints",
                "web",
                {"subsets": _endpoints([ports[0], ports[2]], [ports[1]])},
                "default",
            )
            await wait_for_async(
                lambda: len(proxy.backends_for(proxy_spec(proxy))) == 2,
                "two ready backends",
                10,
            )
            answers = [await _ask(node_port) for _ in range(6)]
            assert sorted(set(answers)) == ["a", "c"]

            # The Service goes: so does its listener.
            await client.delete("services", "web", "default")
            await wait_for_async(
                lambda: ("127.0.0.1", node_port) not in proxy.listening(),
                "the NodePort listener closed",
                10,
            )
        finally:
            await proxy.stop()
            for s, _ in backends:
                s.close()
            await client.close()

    asyncio.run(scenario())


def proxy_spec(proxy: ServiceProxy) -> Any:
    # The web Service's listener (the apiserver's own kubernetes Service has one too).
    return next(v.spec for v in proxy._listeners.values() if v.spec.service == "default/web")
