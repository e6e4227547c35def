"""The userspace proxy cannot keep a client on one endpoint: a Service asking for
``sessionAffinity: ClientIP`` there is said so in the log (never silently ignored)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kubelet.proxy import ServiceProxy
from tests.harness import ApiServer, free_port
from tests.wait import wait_for_async


def test_client_ip_affinity_on_a_userspace_listener_is_a_warning(
    apiserver: ApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kubelet.proxy")
    node_port = 30000 + free_port() % 2700

    async def scenario() -> None:
        client = apiserver.async_client()
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "sticky"},
            "spec": {
                "type": "NodePort",
                "sessionAffinity": "ClientIP",
                "ports": [{"port": 80, "nodePort": node_port}],
            },
        }
        await client.create("services", svc, "default")
        proxy = ServiceProxy(client, "127.0.0.1")  # no kernel: the userspace fallback
        await proxy.start()
        try:
            await wait_for_async(
                lambda: ("127.0.0.1", node_port) in proxy.listening(), "the listener", 10
            )
        finally:
            await proxy.stop()
            await client.close()

    asyncio.run(scenario())
    warnings = [r.getMessage() for r in caplog.records if "sessionAffinity" in r.getMessage()]
    assert warnings == [
        f"service proxy: default/sticky: sessionAffinity ClientIP is not honoured on "
        f"127.0.0.1:{node_port} (a userspace listener: round robin)"
    ]
