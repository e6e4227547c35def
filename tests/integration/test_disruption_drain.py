"""kubectl drain honours a PodDisruptionBudget: a Deployment of 3 with minAvailable 2,
a node holding 2 of them drained by the real kubectl, which evicts one pod, is refused
(429) for the second until its replacement is Ready elsewhere, then evicts it."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.cluster import Cluster
from tests.wait import wait_for

KUBECTL = Path("/usr/bin/kubectl")
pytestmark = [
    pytest.mark.skipif(not KUBECTL.exists(), reason="the real kubectl is /usr/bin/kubectl"),
    pytest.mark.timeout(240),
]


def kubectl(cl: Cluster, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "KUBECONFIG": str(cl.api.kubeconfig),
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin"),
    }
    return subprocess.run(
        [str(KUBECTL), *args], capture_output=True, text=True, timeout=180, env=env
    )


def deployment(replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "main", "image": "nginx"}]},
            },
        },
    }


def healthy(c: Any) -> list[dict[str, Any]]:
    return [
        p
        for p in c.list("pods", "default", label_selector="app=web")["items"]
        if not p["metadata"].get("deletionTimestamp")
        and any(
            x.get("type") == "Ready" and x.get("status") == "True"
            for x in (p.get("status") or {}).get("conditions") or []
        )
    ]


def on_node(pods: list[dict[str, Any]], node: str) -> list[str]:
    return sorted(p["metadata"]["name"] for p in pods if p["spec"].get("nodeName") == node)


def cordon(c: Any, node: str, off: bool) -> None:
    c.patch("nodes", node, {"spec": {"unschedulable": off}})


def test_drain_evicts_one_at_a_time_within_the_budget(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home") as cl:
        cl.add_scheduler()
        cl.add_controllers()
        cl.add_kubelet("box-a")
        cl.add_kubelet("box-b")
        cl.wait_nodes_ready("box-a", "box-b")
        c = cl.api.client()
        # Two pods on box-a, then the third on box-b.
        cordon(c, "box-b", True)
        c.create("deployments", deployment(2), "default")
        wait_for(lambda: len(on_node(healthy(c), "box-a")) == 2, "2 ready pods on box-a", 60)
        cordon(c, "box-b", False)
        cordon(c, "box-a", True)
        c.patch("deployments", "web", {"spec": {"replicas": 3}}, "default")
        wait_for(lambda: len(on_node(healthy(c), "box-b")) == 1, "1 ready pod on box-b", 60)
        first_on_a = on_node(healthy(c), "box-a")
        c.create(
            "poddisruptionbudgets",
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "web"},
                "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}},
            },
            "default",
        )
        wait_for(
            lambda: (
                (c.get("poddisruptionbudgets", "web", "default").get("status") or {}).get(
                    "disruptionsAllowed"
                )
                == 1
            ),
            "the budget allows one disruption",
            30,
        )

        # Watch the healthy count while kubectl drains: it must never drop below 2.
        lowest = [3]
        done = threading.Event()
        seen: list[Any] = []

        def watch() -> None:
            own = cl.api.client()  # a client of its own: this runs in another thread
            while not done.is_set():
                now = healthy(own)
                if len(now) < lowest[0]:
                    seen.append(own.list("pods", "default")["items"])
                lowest[0] = min(lowest[0], len(now))
                done.wait(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            p = kubectl(cl, tmp_path, "drain", "box-a", "--timeout=150s")
        finally:
            done.set()
            watcher.join()
        assert p.returncode == 0, p.stderr
        assert "Cannot evict pod as it would violate the pod's disruption budget." in p.stderr
        assert "node/box-a drained" in p.stdout
        assert lowest[0] >= 2, f"only {lowest[0]} healthy pods during the drain: {seen}"
        wait_for(lambda: len(on_node(healthy(c), "box-b")) == 3, "3 ready pods on box-b", 60)
        names = {x["metadata"]["name"] for x in c.list("pods", "default")["items"]}
        assert not names & set(first_on_a)
        status = c.get("poddisruptionbudgets", "web", "default")["status"]
        assert (status["currentHealthy"], status["desiredHealthy"]) == (3, 2)
