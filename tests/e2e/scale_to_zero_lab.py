"""A Docker cluster for scale to zero (issue 20 item 3), shared by the e2e test and
``make bench``: an apiserver, the scheduler, the controllers that make a Deployment's pods
and its Endpoints plus the scale-to-zero controller, and one Docker kubelet with the
kernel Service proxy. ``deployment`` makes a trivial busybox httpd Deployment behind a
ClusterIP Service, opted in to scale to zero.

Every address reached is on this machine: the ClusterIP is in the service range under
the kubelet's own unreachable route, the pods on the bridge its kubelet made.
"""

from __future__ import annotations

import subprocess
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from api.scaletozero import ACTIVATION_TIMEOUT, ACTIVATOR, SCALE_TO_ZERO_AFTER
from kubelet.proxy_rules import table_name
from tests.cluster import Cluster
from tests.e2e.docker_lab import DockerLab, docker_cluster
from tests.e2e.images import IMAGE
from tests.wait import wait_for

NS = "default"
CONTROLLERS = "nodeipam,endpoints,deployment,replicaset,scaletozero"
# Answers its pod name on :8080.
WEB = "mkdir -p /www && echo $POD_NAME > /www/index.html && exec httpd -f -p 8080 -h /www"


class ZeroLab(DockerLab):
    def __init__(self, cluster: Cluster, node: str) -> None:
        super().__init__(cluster, node)
        self.table = table_name(self.uid, node)

    def deployment(
        self, name: str, idle: str, replicas: int = 0, timeout: str = "120s", probe: bool = True
    ) -> str:
        """A Deployment ``name`` of busybox httpd behind the Service ``name``; returns the
        Service's ClusterIP once the kubelet's rules hold its connections (at 0 replicas)
        or forward them."""
        container: dict[str, Any] = {
            "name": "web",
            "image": IMAGE,
            "imagePullPolicy": "Never",
            "command": ["sh", "-c", WEB],
            "env": [
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ],
            "ports": [{"name": "http", "containerPort": 8080}],
        }
        if probe:
            container["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": name,
                "annotations": {SCALE_TO_ZERO_AFTER: idle, ACTIVATION_TIMEOUT: timeout},
            },
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"terminationGracePeriodSeconds": 0, "containers": [container]},
                },
            },
        }
        self.api.create("deployments", body, NS)
        svc = {
            "metadata": {"name": name},
            "spec": {
                "selector": {"app": name},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        }
        cip = str(self.api.create("services", svc, NS)["spec"]["clusterIP"])
        wait_for(
            lambda: ACTIVATOR in (self.api.get("services", name, NS)["metadata"]["annotations"]),
            f"the activator mark on Service {name}",
            30,
            diagnostics=self.cluster.logs,
        )
        wait_for(
            lambda: f"ip daddr {cip} tcp dport 80" in self.table_text(),
            f"the kubelet's rules for {name}",
            30,
            diagnostics=self.cluster.logs,
        )
        return cip

    def replicas(self, name: str) -> int:
        return int(self.api.get("deployments", name, NS)["spec"].get("replicas", 1))

    def table_text(self) -> str:
        done = subprocess.run(
            ["nft", "list", "table", "ip", self.table], capture_output=True, text=True
        )
        return done.stdout if done.returncode == 0 else ""

    def events(self, name: str) -> list[str]:
        items = self.api.list("events", NS)["items"]
        return [
            str(e.get("reason"))
            for e in items
            if (e.get("involvedObject") or {}).get("name") == name
            and (e.get("involvedObject") or {}).get("kind") == "Deployment"
        ]


def get(url: str, timeout: float = 120.0) -> tuple[int, str]:
    """One HTTP GET from the host: status and body (an HTTP error's status too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return int(r.status), r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return int(e.code), e.read().decode(errors="replace").strip()


@contextmanager
def zero_lab(workdir: Path) -> Iterator[ZeroLab]:
    """The cluster above, torn down with whatever it left on the engine."""
    with docker_cluster(workdir, "stz", CONTROLLERS, (), ("--resync-period", "2")) as (cl, node):
        yield ZeroLab(cl, node)
