"""deploy/examples/model-cache.yaml against the real Docker engine: the warm-up Job fills
the cache once (resuming a partial download), and the 3 replicas of the server start
from that one copy without writing the weights again (bytes written per replica: 0)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from tests.cluster import Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.harness import REPO
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

NS = "default"
EXAMPLE = REPO / "deploy" / "examples" / "model-cache.yaml"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    engine = docker.from_env()
    ensure_busybox_image(engine)
    node = f"cache-{uuid.uuid4().hex[:6]}"
    base = tmp_path_factory.mktemp("model-cache")
    cl = Cluster(base / "home")
    try:
        cl.add_scheduler()
        cl.add_controllers()
        cl.add_kubelet(
            node,
            "--storage-dir",
            str(base / "volumes"),
            runtime="docker",
            scheme=None,
            root_dir=base / "kubelet",
        )
        cl.wait_nodes_ready(timeout=60)
        yield cl
    finally:
        cl.stop()
        for ctr in engine.containers.list(all=True, filters={"label": f"io.kubelab.node={node}"}):
            ctr.remove(force=True)


def _local_images(doc: dict[str, Any]) -> dict[str, Any]:
    """The example with the test's busybox image (no registry here); the server serves
    with busybox httpd instead of python."""
    spec = doc["spec"]["template"]["spec"]
    for c in spec.get("initContainers", []) + spec["containers"]:
        c["image"], c["imagePullPolicy"] = IMAGE, "Never"
        if c["name"] == "server":
            c["command"] = ["httpd", "-f", "-p", "8080", "-h", "/models"]
    return doc


def test_replicas_share_one_filled_cache(cluster: Cluster) -> None:
    c = cluster.client
    claim, job, deployment = yaml.safe_load_all(EXAMPLE.read_text())
    c.create("persistentvolumeclaims", claim, NS)
    # An earlier warm-up was killed after 3 MiB: what it left is resumed, not redone.
    partial = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "interrupted"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "c",
                    "image": IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", "dd if=/dev/zero of=/cache/weights.part bs=1M count=3"],
                    "volumeMounts": [{"name": "cache", "mountPath": "/cache"}],
                }
            ],
            "volumes": [{"name": "cache", "persistentVolumeClaim": {"claimName": "model-cache"}}],
        },
    }
    c.create("pods", partial, NS)
    wait_for(
        lambda: (c.get("pods", "interrupted", NS).get("status") or {}).get("phase") == "Succeeded",
        "the interrupted download's pod done",
        60,
    )
    c.create("deployments", _local_images(deployment), NS)
    c.create("jobs", _local_images(job), NS)

    def ready() -> bool:
        d = c.get("deployments", "cached-model-server", NS)
        return (d.get("status") or {}).get("readyReplicas") == 3

    wait_for(ready, "3 replicas ready", 120)
    (job_pod,) = c.list("pods", NS, label_selector="job-name=model-cache-warmup")["items"]
    assert c.log(job_pod["metadata"]["name"], NS).strip() == (
        "filled: 5242880 bytes written (resumed at 3 MiB)"
    )
    pods = c.list("pods", NS, label_selector="app=cached-model-server")["items"]
    assert len({p["spec"]["nodeName"] for p in pods}) == 1  # where the cache lives
    pvc = c.get("persistentvolumeclaims", "model-cache", NS)
    path = Path(c.get("persistentvolumes", pvc["spec"]["volumeName"])["spec"]["local"]["path"])
    assert (path / "weights").stat().st_size == 8 * 1024 * 1024
    assert (path / ".complete").exists() and not (path / "weights.part").exists()
    # One copy on disk: the cache holds the 8 MiB of the Job's fill and nothing the
    # replicas added (a replica copying the weights would double it).
    cache_bytes = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    assert cache_bytes == 8 * 1024 * 1024, cache_bytes
    engine = docker.from_env()
    for p in pods:
        out = c.log(p["metadata"]["name"], NS, container="wait-for-cache").strip()
        assert out == "cache ready", out
        # The list call with size=True is the one that reports SizeRw (docker ps --size).
        ctrs = engine.api.containers(
            all=True, size=True, filters={"label": f"io.kubelab.pod.uid={p['metadata']['uid']}"}
        )
        written = {str(ctr["Names"][0]): int(ctr.get("SizeRw") or 0) for ctr in ctrs}
        print(f"replica {p['metadata']['name']}: bytes written (SizeRw) {written}")
        assert ctrs and all(n < 64 * 1024 for n in written.values()), written
    print(f"cache directory after 3 replicas: {cache_bytes} bytes (one copy)")
