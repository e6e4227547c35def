"""The kubelet's Service proxy says what it cannot do, on the Service, against a real
apiserver: a NodePort already bound on the host is a Warning event that ``kl describe
svc`` shows; a fake-runtime node binds no host port (two fake clusters on one box share
30000-32767 without colliding) and records a Normal event saying it serves no traffic."""

from __future__ import annotations

import asyncio
import errno
import random
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubelet.proxy import ServiceProxy
from tests.harness import ApiServer, ComponentExited, start_apiserver
from tests.integration.kl_helpers import kl
from tests.wait import wait_for, wait_for_async


@contextmanager
def held_node_port() -> Iterator[tuple[socket.socket, int]]:
    """A port of the NodePort range, bound and listening on 127.0.0.1 by this test."""
    for _ in range(200):
        port = random.randint(30000, 32767)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        s.listen()
        try:
            yield s, port
        finally:
            s.close()
        return
    raise AssertionError("no free port in 30000-32767 on this host")


def free_node_port() -> int:
    with held_node_port() as (_, port):
        return port


def node_port_service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 80, "nodePort": port}]},
    }


def events_about(client: Any, name: str, reason: str) -> Callable[[], Awaitable[list[Any]]]:
    async def check() -> list[Any]:
        items = (
            await client.list("events", "default", field_selector=f"involvedObject.name={name}")
        )["items"]
        return [e for e in items if e.get("reason") == reason]

    return check


def test_node_port_bound_on_the_host_is_a_warning_event(apiserver: ApiServer) -> None:
    async def scenario(port: int) -> None:
        client = apiserver.async_client()
        svc = await client.create("services", node_port_service("web", port), "default")
        proxy = ServiceProxy(client, "127.0.0.1", node_name="box-1")
        await proxy.start()
        try:
            found: list[Any] = await wait_for_async(
                events_about(client, "web", "NodePortUnavailable"), "the Warning event"
            )
            [event] = found
            assert event["type"] == "Warning"
            involved = event["involvedObject"]
            assert (involved["kind"], involved["name"], involved["uid"]) == (
                "Service",
                "web",
                svc["metadata"]["uid"],
            )
            message = event["message"]
            assert f"nodePort {port}" in message and "node box-1" in message
            assert os_text(errno.EADDRINUSE) in message
            # Nothing of web's is bound (the apiserver's own kubernetes Service may be).
            assert "default/web" not in proxy.listening().values()
        finally:
            await proxy.stop()
            await client.close()

    with held_node_port() as (_, port):
        asyncio.run(scenario(port))
        page = kl(apiserver.kubeconfig, "describe", "svc", "web").ok().out
    events = page.split("Events:", 1)[1]
    assert "Warning  NodePortUnavailable" in events, page
    assert f"cannot listen on nodePort {port}" in events and "address already in use" in events


def os_text(code: int) -> str:
    import os

    return os.strerror(code).lower()


def test_fake_runtime_nodes_bind_no_host_port(apiserver: ApiServer, tmp_path: Path) -> None:
    """Two fake clusters on one machine, each with a Service on the same nodePort."""
    port = free_node_port()
    second = start_apiserver(tmp_path / "second")

    async def scenario() -> None:
        clients = [apiserver.async_client(), second.async_client()]
        proxies = [
            ServiceProxy(c, "127.0.0.1", node_name=f"fake-{i}", serves_traffic=False)
            for i, c in enumerate(clients)
        ]
        try:
            for c, p in zip(clients, proxies, strict=True):
                await c.create("services", node_port_service("web", port), "default")
                await p.start()
            for i, c in enumerate(clients):
                found: list[Any] = await wait_for_async(
                    events_about(c, "web", "NotServed"), f"cluster {i}'s NotServed event"
                )
                [event] = found
                assert event["type"] == "Normal"
                assert event["involvedObject"]["kind"] == "Service"
                assert f"node fake-{i} runs the fake runtime" in event["message"]
                assert f"127.0.0.1:{port}" in event["message"]
            # Both proxies have looked at the Service (their events are out): neither
            # holds the port, which this process can still bind.
            assert all(p.listening() == {} for p in proxies)
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))
        finally:
            for p in proxies:
                await p.stop()
            for c in clients:
                await c.close()

    try:
        asyncio.run(scenario())
    finally:
        second.stop()


def test_a_fake_runtime_kubelet_takes_no_node_port(apiserver: ApiServer) -> None:
    """`kubelab kubelet --runtime fake` (its proxy on, as under `kubelab up --runtime fake`)."""
    port = free_node_port()
    c = apiserver.client()
    c.create("services", node_port_service("web", port), "default")
    kubelet = apiserver.component_proc(
        "kubelet",
        "--runtime",
        "fake",
        "--node-name",
        "fakebox",
        "--address",
        "127.0.0.1",
        "--port",
        "0",
        "--home",
        str(apiserver.home),
    ).start()
    try:

        def not_served() -> list[Any]:
            kubelet.check_alive()
            items = c.list("events", "default", field_selector="involvedObject.name=web")
            return [e for e in items["items"] if e.get("reason") == "NotServed"]

        [event] = wait_for(
            not_served,
            "the kubelet's NotServed event",
            30,
            give_up_on=(ComponentExited,),
            diagnostics=kubelet.tail,
        )
        assert "node fakebox runs the fake runtime" in event["message"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # still free: the kubelet did not take it
    finally:
        kubelet.stop()
