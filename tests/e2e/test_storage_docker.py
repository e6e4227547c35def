"""Issue 16's storage e2e against the real Docker engine: a pod writes to a local-path
claim, is deleted, and its replacement (pinned to the volume's node by the scheduler)
reads the data; a claim in use is not deleted until its pod is gone; reclaim Delete
removes the directory, Retain keeps it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client import ApiError
from tests.cluster import Cluster
from tests.e2e.images import IMAGE, ensure_busybox_image
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(300)]

NS = "default"
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str, Path]]:
    import docker

    engine = docker.from_env()
    ensure_busybox_image(engine)
    node = f"vol-{uuid.uuid4().hex[:6]}"
    base = tmp_path_factory.mktemp("storage-docker")
    storage = base / "volumes"
    cl = Cluster(base / "home")
    try:
        cl.add_scheduler()
        cl.add_controllers()
        cl.add_kubelet(
            node,
            "--storage-dir",
            str(storage),
            runtime="docker",
            scheme=None,
            root_dir=base / "kubelet",
        )
        cl.wait_nodes_ready(timeout=60)
        yield cl, node, storage
    finally:
        cl.stop()
        for ctr in engine.containers.list(all=True, filters={"label": f"io.kubelab.node={node}"}):
            ctr.remove(force=True)


def claim(name: str, storage_class: str | None = None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name},
        "spec": spec,
    }


def pod(name: str, claim_name: str, script: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {
                    "name": "main",
                    "image": IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim_name}}],
        },
    }


def get(c: Any, resource: str, name: str, ns: str | None = NS) -> Obj | None:
    try:
        out: Obj = c.get(resource, name, ns)
        return out
    except ApiError as e:
        if e.code == 404:
            return None
        raise


def wait_phase(c: Any, name: str, phase: str, timeout: float = 60) -> Obj:
    def reached() -> Obj | None:
        p = get(c, "pods", name)
        return p if ((p or {}).get("status") or {}).get("phase") == phase else None

    return wait_for(reached, f"pod {name} {phase}", timeout)


def gone(c: Any, resource: str, name: str, ns: str | None = NS) -> bool:
    return get(c, resource, name, ns) is None


def test_data_outlives_its_pod_and_delete_reclaim_removes_it(
    cluster: tuple[Cluster, str, Path],
) -> None:
    cl, node, storage = cluster
    c = cl.client
    c.create("persistentvolumeclaims", claim("weights"), NS)
    c.create("pods", pod("writer", "weights", "echo model-v1 > /data/weights; sleep 3600"), NS)
    writer = wait_phase(c, "writer", "Running")
    assert writer["spec"]["nodeName"] == node
    pvc = c.get("persistentvolumeclaims", "weights", NS)
    pv_name = pvc["spec"]["volumeName"]
    path = Path(c.get("persistentvolumes", pv_name, None)["spec"]["local"]["path"])
    assert path.parent == storage
    wait_for(lambda: (path / "weights").exists(), "the pod's write on the node's disk", 30)

    # In use: the claim is only marked for deletion while its pod lives.
    c.delete("persistentvolumeclaims", "weights", NS)
    assert get(c, "persistentvolumeclaims", "weights")["metadata"]["deletionTimestamp"]
    c.delete("pods", "writer", NS)
    wait_for(lambda: gone(c, "pods", "writer"), "writer gone", 60)
    # The claim went with its last pod; Delete then removes the volume and its data.
    wait_for(lambda: gone(c, "persistentvolumeclaims", "weights"), "claim gone", 30)
    wait_for(lambda: gone(c, "persistentvolumes", pv_name, None), "volume deleted", 30)
    wait_for(lambda: not path.exists(), "the directory removed by the kubelet", 30)


def test_replacement_pod_reads_the_data_and_retain_keeps_it(
    cluster: tuple[Cluster, str, Path],
) -> None:
    cl, node, _ = cluster
    c = cl.client
    c.create(
        "storageclasses",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "keep-local"},
            "provisioner": "rancher.io/local-path",
            "volumeBindingMode": "WaitForFirstConsumer",
            "reclaimPolicy": "Retain",
        },
    )
    c.create("persistentvolumeclaims", claim("cache", "keep-local"), NS)
    c.create("pods", pod("first", "cache", "echo hello > /data/greeting; sleep 3600"), NS)
    wait_phase(c, "first", "Running")
    pv_name = c.get("persistentvolumeclaims", "cache", NS)["spec"]["volumeName"]
    path = Path(c.get("persistentvolumes", pv_name, None)["spec"]["local"]["path"])
    wait_for(lambda: (path / "greeting").exists(), "first's write", 30)
    c.delete("pods", "first", NS)
    wait_for(lambda: gone(c, "pods", "first"), "first gone", 60)

    reader = pod("second", "cache", "cat /data/greeting")
    reader["spec"]["restartPolicy"] = "Never"
    c.create("pods", reader, NS)
    done = wait_phase(c, "second", "Succeeded")
    assert done["spec"]["nodeName"] == node
    assert c.log("second", NS).strip() == "hello"

    c.delete("pods", "second", NS)
    wait_for(lambda: gone(c, "pods", "second"), "second gone", 60)
    c.delete("persistentvolumeclaims", "cache", NS)
    wait_for(lambda: gone(c, "persistentvolumeclaims", "cache"), "claim gone", 30)

    def released() -> bool:
        pv = get(c, "persistentvolumes", pv_name, None)
        return ((pv or {}).get("status") or {}).get("phase") == "Released"

    wait_for(released, "the Retain volume Released", 30)
    assert (path / "greeting").read_text() == "hello\n"  # the data is kept
