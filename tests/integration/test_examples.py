"""Every manifest in deploy/examples, applied to a fake-runtime `kubelab up` cluster
with simulated GPUs, does what its comments say."""

from __future__ import annotations

import base64
from pathlib import Path

import yaml

from tests.harness import REPO
from tests.up_cluster import UpCluster
from tests.wait import wait_for

EXAMPLES = REPO / "deploy" / "examples"


def test_every_example_applies_and_runs(tmp_path: Path) -> None:
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert {f.name for f in files} >= {
        "model-server.yaml",
        "gpu-training-job.yaml",
        "configmap.yaml",
        "secret.yaml",
        "vector-db.yaml",
        "model-cache.yaml",
    }
    kinds = [d["kind"] for f in files for d in yaml.safe_load_all(f.read_text()) if d]
    up = UpCluster(tmp_path / "home", ["--runtime", "fake", "--fake-gpus", "2xH100-80GB"]).start()
    try:
        out = up.kl("apply", "-f", str(EXAMPLES))
        assert out.count("created") == len(kinds), out
        c = up.client()

        # The model server: 2 ready replicas behind Endpoints the Service's proxy uses.
        wait_for(
            lambda: (
                c.get("deployments", "model-server", "default")["status"].get("readyReplicas") == 2
            ),
            "model-server 2/2 ready",
        )
        wait_for(
            lambda: (
                sum(
                    len(s.get("addresses") or [])
                    for s in c.get("endpoints", "model-server", "default").get("subsets") or []
                )
                == 2
            ),
            "2 ready endpoints",
        )
        svc = c.get("services", "model-server", "default")
        assert svc["spec"]["ports"][0]["nodePort"] == 30080

        # The training Job's pod got exactly one of the node's GPUs, recorded on the pod.
        def gpu_pod() -> dict | None:
            pods = c.list("pods", "default", label_selector="job-name=train")["items"]
            running = [p for p in pods if p["status"].get("phase") == "Running"]
            return running[0] if running else None

        pod = wait_for(gpu_pod, "training pod Running")
        uuids = pod["metadata"]["annotations"]["kubelab.io/gpu-uuids"].split(",")
        node = c.get("nodes", pod["spec"]["nodeName"])
        assert len(uuids) == 1 and uuids[0] in {g["uuid"] for g in node["status"]["gpus"]}
        assert uuids[0] in up.kl("get", "pods", "-l", "job-name=train", "-o", "wide")

        # The vector database: 3 ready replicas, each with its own claim, named in
        # the headless Service's Endpoints by its stable hostname.
        wait_for(
            lambda: (
                c.get("statefulsets", "vector-db", "default")["status"].get("readyReplicas") == 3
            ),
            "vector-db 3/3 ready",
            timeout=60,
        )
        claims = {
            p["metadata"]["name"] for p in c.list("persistentvolumeclaims", "default")["items"]
        }
        assert {f"data-vector-db-{i}" for i in range(3)} <= claims

        def hostnames() -> bool:
            ep = c.get("endpoints", "vector-db", "default")
            names = {
                a.get("hostname") for s in ep.get("subsets") or [] for a in s.get("addresses") or []
            }
            return names == {"vector-db-0", "vector-db-1", "vector-db-2"}

        wait_for(hostnames, "each vector-db pod named in the Endpoints")

        # The model cache: its claim is provisioned for the first pod and every pod of it
        # (warm-up Job, 3 replicas) is placed on that node. The fake runtime runs no dd and
        # reads no marker, so filling and waiting are tests/e2e/test_model_cache_docker.py's.
        def cache_bound() -> bool:
            pvc = c.get("persistentvolumeclaims", "model-cache", "default")
            return (pvc.get("status") or {}).get("phase") == "Bound"

        wait_for(cache_bound, "model-cache Bound", timeout=60)

        def on_one_node() -> bool:
            users = [
                p
                for p in c.list("pods", "default")["items"]
                if any(
                    (v.get("persistentVolumeClaim") or {}).get("claimName") == "model-cache"
                    for v in p["spec"].get("volumes") or []
                )
            ]
            nodes = {p["spec"].get("nodeName") for p in users}
            return len(users) == 4 and len(nodes) == 1 and None not in nodes

        wait_for(on_one_node, "the cache's 4 pods on its node", timeout=60)

        # ConfigMap and Secret: stored as written (the Secret base64-encoded).
        assert c.get("configmaps", "model-config", "default")["data"]["MODEL_NAME"] == "tiny-llm"
        secret = c.get("secrets", "model-credentials", "default")
        assert base64.b64decode(secret["data"]["HF_TOKEN"]) == b"replace-me"
    finally:
        up.stop()
