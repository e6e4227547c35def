"""Issue 16's StatefulSet e2e against the real Docker engine: a StatefulSet of 3 with a
volumeClaimTemplate (the default local-path class) scales to 1 and back to 3, and every
replica finds its own data again in its own claim's directory."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

NS = "default"
# Each pod records who first wrote its volume and counts its starts there.
SCRIPT = (
    "test -f /data/owner || hostname > /data/owner; echo start >> /data/starts; exec sleep 3600"
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str, Any]]:
    import docker

    engine = docker.from_env()
    ensure_busybox_image(engine)
    node = f"sts-{uuid.uuid4().hex[:6]}"
    base = tmp_path_factory.mktemp("sts-docker")
    cl = Cluster(base / "home")
    try:
        cl.add_scheduler()
        cl.add_controllers()
        cl.add_kubelet(node, runtime="docker", scheme=None, root_dir=base / "kubelet")
        cl.wait_nodes_ready(timeout=60)
        yield cl, node, engine
    finally:
        cl.stop()
        for ctr in engine.containers.list(all=True, filters={"label": f"io.kubelab.node={node}"}):
            ctr.remove(force=True)


def statefulset(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {
                            "name": "main",
                            "image": IMAGE,
                            "command": ["sh", "-c", SCRIPT],
                            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        }
                    ],
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "16Mi"}},
                    },
                }
            ],
        },
    }


def read(engine: Any, node: str, pod: str, path: str) -> str:
    """A file as the pod's main container sees it."""
    labels = [f"io.kubelab.pod.name={pod}", f"io.kubelab.node={node}"]
    (ctr,) = engine.containers.list(filters={"label": [*labels, "io.kubelab.container.name=main"]})
    return str(ctr.exec_run(["cat", path]).output.decode(errors="replace"))


def ready_pods(api: Any, n: int) -> list[str]:
    def check() -> list[str] | None:
        pods = api.list("pods", NS, label_selector="app=db")["items"]
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        ok = [
            p["metadata"]["name"]
            for p in live
            if p["status"].get("phase") == "Running"
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions") or []
            )
        ]
        return sorted(ok) if len(ok) == len(pods) == n else None

    return wait_for(check, f"{n} db pods running and ready", timeout=120)


def test_each_replica_finds_its_own_data_after_scaling_to_one_and_back(
    cluster: tuple[Cluster, str, Any],
) -> None:
    cl, node, engine = cluster
    api = cl.client
    api.create("statefulsets", statefulset(3), NS)
    assert ready_pods(api, 3) == ["db-0", "db-1", "db-2"]
    for i in range(3):
        assert read(engine, node, f"db-{i}", "/data/owner").strip() == f"db-{i}"
    claims = {c["metadata"]["name"]: c for c in api.list("persistentvolumeclaims", NS)["items"]}
    assert set(claims) == {"data-db-0", "data-db-1", "data-db-2"}
    volumes = {c["metadata"]["name"]: c["spec"]["volumeName"] for c in claims.values()}

    api.patch("statefulsets", "db", {"spec": {"replicas": 1}}, NS, subresource="scale")
    assert ready_pods(api, 1) == ["db-0"]
    api.patch("statefulsets", "db", {"spec": {"replicas": 3}}, NS, subresource="scale")
    assert ready_pods(api, 3) == ["db-0", "db-1", "db-2"]
    again = {c["metadata"]["name"]: c for c in api.list("persistentvolumeclaims", NS)["items"]}
    assert {n: c["spec"]["volumeName"] for n, c in again.items()} == volumes
    for i in range(3):
        assert read(engine, node, f"db-{i}", "/data/owner").strip() == f"db-{i}"
    # db-1 and db-2 started twice on their own volume, db-0 once.
    starts = {i: read(engine, node, f"db-{i}", "/data/starts").split() for i in range(3)}
    assert starts == {0: ["start"], 1: ["start", "start"], 2: ["start", "start"]}
    api.delete("statefulsets", "db", NS)
    wait_for(lambda: not api.list("pods", NS, label_selector="app=db")["items"], "pods gone", 60)
