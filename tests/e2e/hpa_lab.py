"""A Docker cluster for the HorizontalPodAutoscaler on real usage (issue 20 items 2 and 4),
shared by the e2e test and ``make bench``: an apiserver, the scheduler, the Deployment,
ReplicaSet and HPA controllers, and one Docker kubelet whose usage report reads each
container's cgroup counters.

``burner`` makes a busybox Deployment with a CPU request whose container idles until the
file ``/tmp/load`` exists and then spins the shell (``[ -f ]`` is a builtin: no fork, one
core of pure user time) until it is removed. ``load`` creates or removes that file with
``docker exec`` in the oldest pod's container, so the test decides when the load starts
and stops, and the replicas the HPA adds stay idle unless told otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubelet.runtime.base import LABEL_CONTAINER_NAME, LABEL_POD_NAME
from tests.e2e.docker_lab import DockerLab, docker_cluster
from tests.e2e.images import IMAGE

NS = "default"
CONTROLLERS = "nodeipam,deployment,replicaset,horizontalpodautoscaling"
BURN = "while :; do while [ -f /tmp/load ]; do :; done; sleep 0.2; done"


class HpaLab(DockerLab):
    def burner(self, name: str, cpu_request: str = "100m") -> None:
        """The Deployment ``name`` at one replica, its container idle until loaded."""
        body = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "terminationGracePeriodSeconds": 0,
                        "containers": [
                            {
                                "name": "burn",
                                "image": IMAGE,
                                "imagePullPolicy": "Never",
                                "command": ["sh", "-c", BURN],
                                "resources": {"requests": {"cpu": cpu_request}},
                            }
                        ],
                    },
                },
            },
        }
        self.api.create("deployments", body, NS)

    def hpa(self, name: str, max_replicas: int, cpu_percent: int = 50) -> None:
        """An autoscaling/v2 HPA on Deployment ``name``: average CPU utilisation target."""
        body = {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": name},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                "minReplicas": 1,
                "maxReplicas": max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": cpu_percent},
                        },
                    }
                ],
            },
        }
        self.api.create("horizontalpodautoscalers", body, NS)

    def pods(self, name: str) -> list[dict[str, Any]]:
        items = self.api.list("pods", NS, label_selector=f"app={name}")["items"]
        live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        return sorted(live, key=lambda p: str(p["metadata"]["creationTimestamp"]))

    def ready_pods(self, name: str) -> int:
        return sum(
            1
            for p in self.pods(name)
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in (p.get("status") or {}).get("conditions") or []
            )
        )

    def replicas(self, name: str) -> int:
        return int(self.api.get("deployments", name, NS)["spec"].get("replicas", 1))

    def load(self, pod: str, on: bool) -> None:
        """Start (``on``) or stop the spinning loop in ``pod``'s container."""
        labels = [f"{LABEL_POD_NAME}={pod}", f"{LABEL_CONTAINER_NAME}=burn"]
        found = self.docker.containers.list(filters={"label": labels})
        if not found:
            raise RuntimeError(f"no running container for pod {pod}")
        cmd = "touch /tmp/load" if on else "rm -f /tmp/load"
        code, out = found[0].exec_run(["sh", "-c", cmd])
        if code != 0:
            raise RuntimeError(f"{cmd} in {pod}: exit {code}: {out!r}")

    def events(self, name: str) -> list[tuple[str, str]]:
        items = self.api.list("events", NS)["items"]
        return [
            (str(e.get("reason")), str(e.get("message")))
            for e in items
            if (e.get("involvedObject") or {}).get("name") == name
            and (e.get("involvedObject") or {}).get("kind") == "HorizontalPodAutoscaler"
        ]


@contextmanager
def hpa_lab(
    workdir: Path, controller_flags: tuple[str, ...] = (), kubelet_flags: tuple[str, ...] = ()
) -> Iterator[HpaLab]:
    """The cluster above, torn down with whatever it left on the engine."""
    with docker_cluster(workdir, "hpa", CONTROLLERS, controller_flags, kubelet_flags) as (cl, node):
        yield HpaLab(cl, node)
