"""One Docker test cluster for the e2e labs that ``make bench`` shares (tests/e2e/hpa_lab.py,
scale_to_zero_lab.py): an apiserver, the scheduler, the named controllers and one Docker
kubelet on a node of its own, torn down with whatever its pods left on the engine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.cluster import Cluster
from tests.e2e.images import ensure_busybox_image


class DockerLab:
    """The cluster, its one node, the engine, and the cluster's uid (its containers' label)."""

    def __init__(self, cluster: Cluster, node: str) -> None:
        import docker

        self.cluster = cluster
        self.api: Any = cluster.client
        self.node = node
        self.docker = docker.from_env()
        self.uid = str(self.api.get("namespaces", "kube-system")["metadata"]["uid"])


@contextmanager
def docker_cluster(
    workdir: Path,
    prefix: str,
    controllers: str,
    controller_flags: tuple[str, ...] = (),
    kubelet_flags: tuple[str, ...] = (),
) -> Iterator[tuple[Cluster, str]]:
    """The cluster and its node's name; everything it made on the engine goes at the end."""
    import docker

    ensure_busybox_image(docker.from_env())
    node = f"{prefix}-{uuid.uuid4().hex[:6]}"
    cl = Cluster(workdir / "home")
    uid = ""
    try:
        cl.add_controllers("--controllers", controllers, "--no-leader-elect", *controller_flags)
        cl.add_scheduler()
        cl.add_kubelet(node, *kubelet_flags, runtime="docker", root_dir=workdir / node)
        cl.wait_nodes_ready(node, timeout=60)
        uid = str(cl.client.get("namespaces", "kube-system")["metadata"]["uid"])
        yield cl, node
    finally:
        cl.stop()
        if uid:
            label = f"io.kubelab.cluster.uid={uid}"
            engine = docker.from_env()
            for c in engine.containers.list(all=True, filters={"label": label}):
                c.remove(force=True)
            for network in engine.networks.list(filters={"label": label}):
                network.remove()
