"""A controller manager partitioned from the apiserver (issue 26 item 2): it cannot renew
its lease, stops leading and exits (as kube-controller-manager does); the standby takes the
lease over and does the work; when the partition heals nothing is done twice.

The partition is a TCP relay the test controls (tests/netcut.py), on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.cluster import FAST_CONTROLLER_FLAGS, Cluster
from tests.netcut import NetCut
from tests.wait import wait_for

LEASE = ("leases", "kubelab-controller-manager", "kube-system")


def replicaset(replicas: int) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            },
        },
    }


def test_the_standby_takes_over_and_nothing_is_done_twice(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home") as cl, NetCut(cl.api.port) as net:
        api = cl.api.client()
        kc = net.kubeconfig(cl.api.home / "controllers.kubeconfig", tmp_path / "cut.kubeconfig")
        leader = cl.add_controllers(*FAST_CONTROLLER_FLAGS, "--kubeconfig", str(kc))

        def holder() -> str:
            return str((api.get(*LEASE).get("spec") or {}).get("holderIdentity") or "")

        first = wait_for(holder, "the first controller manager leading")
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        api.create("replicasets", replicaset(2), "default")
        wait_for(
            lambda: len(api.list("pods", "default", label_selector="app=web")["items"]) == 2,
            "the leader's two pods",
        )
        net.cut()
        second = wait_for(
            lambda: (h := holder()) and h != first and h, "the standby holding the lease", 30
        )
        wait_for(lambda: not leader.alive(), "the cut-off leader stopped after losing its lease")
        api.patch("replicasets", "web", {"spec": {"replicas": 5}}, "default")
        wait_for(
            lambda: len(api.list("pods", "default", label_selector="app=web")["items"]) == 5,
            "the new leader scaling to 5",
        )
        net.heal()
        healed_at = time.monotonic()
        # Converged: the cut-off copy gone for good, five pods, the lease with the standby.
        wait_for(
            lambda: (
                len(api.list("pods", "default", label_selector="app=web")["items"]) == 5
                and holder() == second
            ),
            "five pods and the standby leading after the heal",
        )
        converge = time.monotonic() - healed_at
        print(
            f"\ncontroller manager partition: time to converge after the partition heals: {converge:.2f} s"
        )
        assert converge < 10.0
        # Proving that nothing happens: give a stale copy time to act twice (the lease
        # duration of the fast flags is 3 s), then count again.
        time.sleep(4)
        pods = api.list("pods", "default", label_selector="app=web")["items"]
        assert len(pods) == 5
        assert holder() == second
