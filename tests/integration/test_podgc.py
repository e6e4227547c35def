"""PodGC in a real controller manager: pods of a deleted node go, and finished pods beyond
the threshold go oldest first (fake-runtime kubelets, shortened timings)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cluster import FAST_CONTROLLER_FLAGS, start_cluster
from tests.integration.ctrl_cluster import deployment, is_ready, live_pods, rollout_done
from tests.wait import wait_for

pytestmark = pytest.mark.timeout(180)

PODGC_FLAGS = [
    *FAST_CONTROLLER_FLAGS,
    "--pod-gc-period", "0.5",
    "--pod-gc-orphan-quarantine", "2",
    "--terminated-pod-gc-threshold", "2",
]  # fmt: skip


def _bare_pod(name: str, node: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeName": node,
            "restartPolicy": "Never",
            # The fake runtime runs `true` to a zero exit: the pod Succeeds by itself.
            "containers": [{"name": "c", "image": "busybox", "command": ["true"]}],
        },
    }


def test_pods_of_a_deleted_node_are_removed_and_replaced(tmp_path: Path) -> None:
    cl = start_cluster(tmp_path / "home", nodes=2, controller_flags=PODGC_FLAGS)
    try:
        cl.wait_nodes_ready(timeout=30)
        c = cl.client
        c.create("deployments", deployment("web", 4), "default")
        wait_for(lambda: rollout_done(c.get("deployments", "web", "default")), "rollout", 60)
        on = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in live_pods(c, "default")}
        victim = sorted(set(on.values()))[0]
        survivor = next(n for n in cl.node_names() if n != victim)
        # The box died and the admin removed it: nothing is left to finish its pods.
        cl.kill(f"kubelet/{victim}")
        c.delete("nodes", victim)

        def victims_left() -> list[str]:
            return [
                p["metadata"]["name"]
                for p in c.list("pods", "default")["items"]
                if p["spec"].get("nodeName") == victim
            ]

        wait_for(lambda: not victims_left(), f"the pods of deleted node {victim} gone")
        wait_for(
            lambda: (
                len(
                    [
                        p
                        for p in live_pods(c, "default")
                        if p["spec"]["nodeName"] == survivor and is_ready(p)
                    ]
                )
                == 4
            ),
            "4 replicas on the surviving node",
            60,
        )

        # Finished pods beyond the threshold (2) go, oldest first; running ones stay.
        for i in range(4):
            c.create("pods", _bare_pod(f"done-{i}", survivor), "default")
            time.sleep(1.1)  # distinct creation times (they have a one-second resolution)

        def finished() -> list[str]:
            return sorted(
                p["metadata"]["name"]
                for p in c.list("pods", "default")["items"]
                if p["metadata"]["name"].startswith("done-")
            )

        wait_for(lambda: finished() == ["done-2", "done-3"], "the two newest kept")
        assert len(live_pods(c, "default", "app=web")) == 4
    finally:
        cl.stop()
