"""LoadBalancer Services against a real apiserver and controller manager: the ingress is
the Ready nodes' addresses (fake-runtime nodes included, as a real cluster would show
them), so the real ``kubectl wait`` for it finishes; a node whose proxy cannot bind the
Service's port says so (a Warning event, its Node annotation) and leaves the ingress."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from api.loadbalancer import LB_UNAVAILABLE_ANNOTATION
from kubelet.proxy import ServiceProxy
from tests.cluster import Cluster
from tests.integration.test_service_proxy_events import events_about, held_node_port
from tests.unit.sched_world import node as node_obj
from tests.wait import wait_for, wait_for_async

KUBECTL = Path("/usr/bin/kubectl")
pytestmark = pytest.mark.timeout(180)


def lb_service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "type": "LoadBalancer",
            "selector": {"app": name},
            "ports": [{"name": "http", "port": port, "targetPort": 8080}],
        },
    }


def ingress(c: Any, name: str) -> list[Any]:
    status = c.get("services", name, "default").get("status") or {}
    return list((status.get("loadBalancer") or {}).get("ingress") or [])


@pytest.mark.skipif(not KUBECTL.exists(), reason="the real kubectl is /usr/bin/kubectl")
def test_ingress_is_the_ready_nodes_and_kubectl_wait_finishes(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home") as cl:
        cl.add_controllers()
        cl.add_kubelet("box-a")  # fake runtime, node address 127.0.0.1
        cl.wait_nodes_ready("box-a")
        c = cl.api.client()
        c.create("services", lb_service("web", 8080), "default")
        env = {
            "KUBECONFIG": str(cl.api.kubeconfig),
            "HOME": str(tmp_path),
            "PATH": os.environ.get("PATH", "/usr/bin"),
        }
        p = subprocess.run(
            [
                str(KUBECTL),
                "wait",
                "svc/web",
                "--for=jsonpath={.status.loadBalancer.ingress[0].ip}=127.0.0.1",
                "--timeout=60s",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            env=env,
        )
        assert p.returncode == 0, p.stderr
        assert ingress(c, "web") == [{"ip": "127.0.0.1"}]
        out = subprocess.run(
            [str(KUBECTL), "get", "svc", "web"], capture_output=True, text=True, env=env
        ).stdout
        assert "127.0.0.1" in out.splitlines()[1]
        # Back to ClusterIP: the ingress goes.
        ports = [{"name": "http", "port": 8080, "targetPort": 8080}]
        c.patch("services", "web", {"spec": {"type": "ClusterIP", "ports": ports}}, "default")
        wait_for(lambda: ingress(c, "web") == [], "the ingress cleared", 30)


def test_a_node_that_cannot_bind_the_port_leaves_the_ingress(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home") as cl:
        cl.add_controllers()
        c = cl.api.client()
        # A Node without a kubelet process; this test runs its proxy (a real one, which
        # binds host ports) in process.
        n = node_obj("box-1")
        status = n.pop("status")
        status["addresses"] = [{"type": "InternalIP", "address": "127.0.0.1"}]
        c.create("nodes", n)
        c.patch("nodes", "box-1", {"status": status}, subresource="status")

        async def scenario(port: int) -> None:
            client = cl.api.async_client()
            await client.create("services", lb_service("held", port), "default")
            proxy = ServiceProxy(client, "127.0.0.1", node_name="box-1")
            await proxy.start()
            try:
                [event] = await wait_for_async(
                    events_about(client, "held", "LoadBalancerPortUnavailable"), "the Warning"
                )
                assert (
                    f"load balancer port {port} (127.0.0.1:{port}) on node box-1"
                    in (event["message"])
                )
                node = await client.get("nodes", "box-1")
                assert node["metadata"]["annotations"][LB_UNAVAILABLE_ANNOTATION] == (
                    "default/held"
                )
                await wait_for_async(
                    events_about(client, "held", "NoLoadBalancerNodes"), "the empty ingress"
                )
                assert ingress(c, "held") == []
            finally:
                await proxy.stop()
                await client.close()

        with held_node_port() as (_, port):
            asyncio.run(scenario(port))
