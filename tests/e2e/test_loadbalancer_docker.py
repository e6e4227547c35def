"""A LoadBalancer Service with real containers: its status.loadBalancer.ingress is the
node's address (127.0.0.1) and that address answers on the Service's own port, through
the kubelet's proxy, from the pods behind it (as k3s' ServiceLB), besides its nodePort."""

from __future__ import annotations

import socket
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from api.loadbalancer import LB_UNAVAILABLE_ANNOTATION
from tests.cluster import Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import free_port
from tests.leftovers import remove_leftovers
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]


def deployment() -> dict[str, Any]:
    script = "mkdir -p /www && echo $POD_NAME > /www/index.html && exec httpd -f -p 8080 -h /www"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "lb"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "lb"}},
            "template": {
                "metadata": {"labels": {"app": "lb"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "web",
                            "image": IMAGE,
                            "imagePullPolicy": "Never",
                            "command": ["sh", "-c", script],
                            "env": [
                                {
                                    "name": "POD_NAME",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                                }
                            ],
                            "ports": [{"name": "http", "containerPort": 8080}],
                            "readinessProbe": {
                                "httpGet": {"path": "/", "port": "http"},
                                "periodSeconds": 1,
                            },
                        }
                    ],
                },
            },
        },
    }


def get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        return str(r.read().decode().strip())


def test_load_balancer_port_answers_on_the_ingress_address(tmp_path: Path) -> None:
    import docker

    engine = docker.from_env()
    ensure_busybox_image(engine)
    node = f"lb-{uuid.uuid4().hex[:6]}"
    port = free_port()
    try:
        with Cluster(tmp_path / "home") as cl:
            cl.add_scheduler()
            cl.add_controllers()
            cl.add_kubelet(node, runtime="docker", root_dir=tmp_path / "kubelet")
            cl.wait_nodes_ready(node, timeout=60)
            c = cl.api.client()
            c.create("deployments", deployment(), "default")
            svc = c.create(
                "services",
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {"name": "lb"},
                    "spec": {
                        "type": "LoadBalancer",
                        "selector": {"app": "lb"},
                        "ports": [{"name": "http", "port": port, "targetPort": "http"}],
                    },
                },
                "default",
            )
            node_port = int(svc["spec"]["ports"][0]["nodePort"])

            def ingress() -> list[Any]:
                st = c.get("services", "lb", "default").get("status") or {}
                return list((st.get("loadBalancer") or {}).get("ingress") or [])

            assert wait_for(ingress, "the ingress", 60) == [{"ip": "127.0.0.1"}]
            wait_for(
                lambda: c.get("deployments", "lb", "default")["status"].get("readyReplicas") == 2,
                "2 ready replicas",
                120,
            )
            pods = {p["metadata"]["name"] for p in c.list("pods", "default")["items"]}
            answers = wait_for(lambda: {get(port) for _ in range(6)}, "the LB port answers", 30)
            assert answers == pods
            assert get(node_port) in pods

            # A port something else holds on the node: the kubelet (with its own node
            # credentials) marks its Node, and the controller leaves the node out.
            with socket.socket() as held:
                held.bind(("127.0.0.1", 0))
                held.listen()
                taken = held.getsockname()[1]
                c.create(
                    "services",
                    {
                        "apiVersion": "v1",
                        "kind": "Service",
                        "metadata": {"name": "taken"},
                        "spec": {
                            "type": "LoadBalancer",
                            "selector": {"app": "lb"},
                            "ports": [{"port": taken, "targetPort": "http"}],
                        },
                    },
                    "default",
                )
                wait_for(
                    lambda: (
                        (c.get("nodes", node)["metadata"].get("annotations") or {}).get(
                            LB_UNAVAILABLE_ANNOTATION
                        )
                        == "default/taken"
                    ),
                    "the node says it cannot serve default/taken",
                    30,
                )
                reasons = wait_for(
                    lambda: (
                        {
                            e["reason"]
                            for e in c.list(
                                "events", "default", field_selector="involvedObject.name=taken"
                            )["items"]
                        }
                        >= {"LoadBalancerPortUnavailable", "NoLoadBalancerNodes"}
                    ),
                    "the Warning events",
                    30,
                )
                assert reasons
                st = c.get("services", "taken", "default").get("status") or {}
                assert not (st.get("loadBalancer") or {}).get("ingress")
                assert ingress() == [{"ip": "127.0.0.1"}]  # the other Service keeps its own
    finally:
        remove_leftovers(engine, f"io.kubelab.node={node}")
