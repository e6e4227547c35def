"""`kubelab up` with real Docker: a Deployment of busybox httpd behind a NodePort Service
answers from every replica through the kubelet's proxy, a not-ready replica gets no new
connections, a killed scheduler comes back, and a stopped cluster resumes with the same
objects and the same containers."""

from __future__ import annotations

import os
import signal
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.leftovers import remove_leftovers
from tests.up_cluster import UpCluster
from tests.wait import wait_for

pytestmark = pytest.mark.docker

REPLICAS = 3


def _deployment() -> dict[str, Any]:
    # Each replica serves its pod name; /healthz.html is what readiness checks, so removing
    # it turns a replica not-ready while it still answers.
    script = (
        "mkdir -p /www && echo $POD_NAME > /www/index.html && echo ok > /www/healthz.html "
        "&& exec httpd -f -p 8080 -h /www"
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "hello"},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": {"app": "hello"}},
            "template": {
                "metadata": {"labels": {"app": "hello"}},
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
                                "httpGet": {"path": "/healthz.html", "port": "http"},
                                "periodSeconds": 1,
                                "failureThreshold": 1,
                            },
                        }
                    ],
                },
            },
        },
    }


SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "hello"},
    "spec": {
        "type": "NodePort",
        "selector": {"app": "hello"},
        "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
    },
}


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
        return str(r.read().decode().strip())


def _ready_endpoints(c: Any) -> int:
    ep = c.get("endpoints", "hello", "default")
    return sum(len(s.get("addresses") or []) for s in ep.get("subsets") or [])


def _containers(docker_client: Any, node: str) -> dict[str, str]:
    """pod name -> running container id, for this test's node (each pod's one container,
    not its sandbox)."""
    out = {}
    for ct in docker_client.containers.list(filters={"label": f"io.kubelab.node={node}"}):
        if ct.labels.get("io.kubelab.sandbox") != "true":
            out[ct.labels["io.kubelab.pod.name"]] = ct.id
    return out


def test_up_with_docker_services_supervision_and_resume(tmp_path: Path) -> None:
    import docker

    dc = docker.from_env()
    ensure_busybox_image(dc)
    node = f"e2e-up-{uuid.uuid4().hex[:6]}"
    up = UpCluster(tmp_path / "home", ["--runtime", "docker", "--node-name", node])
    try:
        up.start(timeout=120)
        c = up.client()
        c.create("deployments", _deployment(), "default")
        svc = c.create("services", SERVICE, "default")
        port = int(svc["spec"]["ports"][0]["nodePort"])
        assert 30000 <= port <= 32767
        wait_for(
            lambda: (
                c.get("deployments", "hello", "default")["status"].get("readyReplicas") == REPLICAS
            ),
            "3 ready replicas",
            90,
        )
        wait_for(lambda: _ready_endpoints(c) == REPLICAS, "3 ready endpoints")
        pods = {p["metadata"]["name"] for p in c.list("pods", "default")["items"]}

        # Every replica answers through the Service port on 127.0.0.1 (round robin).
        answers = wait_for(lambda: [_get(port) for _ in range(REPLICAS * 3)], "service answers")
        assert set(answers) == pods, answers

        # One replica turns not-ready: after its Endpoints update it gets nothing new.
        victim = sorted(pods)[0]
        cid = _containers(dc, node)[victim]
        dc.containers.get(cid).exec_run(["rm", "/www/healthz.html"])
        wait_for(lambda: _ready_endpoints(c) == REPLICAS - 1, "victim dropped", 10)
        answers = [_get(port) for _ in range(REPLICAS * 4)]
        assert victim not in answers and set(answers) == pods - {victim}

        # A killed scheduler is restarted by kubelab up.
        old = up.child_pid("scheduler")
        os.kill(old, signal.SIGKILL)
        wait_for(lambda: up.child_pid("scheduler") != old, "scheduler restarted")

        # Stop and start again: the same objects and the very same containers.
        objects = {
            (p["metadata"]["name"], p["metadata"]["uid"])
            for p in c.list("pods", "default")["items"]
        }
        containers = _containers(dc, node)
        assert set(containers) == pods
        assert up.stop() == 0
        assert _containers(dc, node) == containers  # containers outlive the kubelet
        up.args = []
        up.start(timeout=120)
        c = up.client()
        wait_for(
            lambda: (
                c.get("deployments", "hello", "default")["status"].get("readyReplicas")
                == REPLICAS - 1
            ),
            "replicas adopted",
            60,
        )
        after = {
            (p["metadata"]["name"], p["metadata"]["uid"])
            for p in c.list("pods", "default")["items"]
        }
        assert after == objects
        assert _containers(dc, node) == containers
        assert c.get("services", "hello", "default")["spec"]["ports"][0]["nodePort"] == port
        answers = wait_for(lambda: [_get(port) for _ in range(4)], "service after resume")
        assert set(answers) == pods - {victim}
    finally:
        try:
            if up.proc is not None and up.proc.poll() is None:
                up.client().delete(
                    "deployments", "hello", "default", propagation_policy="Foreground"
                )
                wait_for(lambda: not _containers(dc, node), "containers removed", 60)
        finally:
            up.stop()
            remove_leftovers(dc, f"io.kubelab.node={node}")
