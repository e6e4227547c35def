"""A scheduler partitioned from the apiserver (issue 26 item 2): it cannot renew the Lease
``kube-system/kube-scheduler``, stops leading and exits (as kube-scheduler does); the
standby takes the lease and binds the pods created meanwhile; after the partition heals no
pod is bound twice and nothing moves.

The partition is a TCP relay the test controls (tests/netcut.py), on 127.0.0.1."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.cluster import Cluster
from tests.netcut import NetCut
from tests.wait import wait_for

LEASE = ("leases", "kube-scheduler", "kube-system")


def pod(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "part"}},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }


def bound(api: Any) -> dict[str, str]:
    """Pod name -> node, for the bound pods of the test."""
    pods = api.list("pods", "default", label_selector="app=part")["items"]
    return {p["metadata"]["name"]: p["spec"].get("nodeName") or "" for p in pods}


def scheduled_events(api: Any) -> Counter[str]:
    """How many ``Scheduled`` events each pod got: one per bind that happened."""
    events = api.list("events", "default")["items"]
    return Counter(
        e["involvedObject"]["name"]
        for e in events
        if e.get("reason") == "Scheduled" and e["involvedObject"]["name"].startswith("p-")
    )


def test_the_standby_scheduler_takes_over_and_nothing_is_bound_twice(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home") as cl, NetCut(cl.api.port) as net:
        api = cl.api.client()
        cl.add_kubelet("node-a")
        cl.add_kubelet("node-b")
        cl.wait_nodes_ready()
        kc = net.kubeconfig(cl.api.home / "scheduler.kubeconfig", tmp_path / "cut.kubeconfig")
        leader = cl.add_scheduler("--kubeconfig", str(kc))

        def holder() -> str:
            try:
                return str((api.get(*LEASE).get("spec") or {}).get("holderIdentity") or "")
            except Exception:  # the lease not written yet
                return ""

        first = wait_for(holder, "the first scheduler leading")
        standby = cl.add_scheduler()
        for i in range(3):
            api.create("pods", pod(f"p-{i}"), "default")
        wait_for(lambda: all(bound(api).values()), "the leader binding three pods")

        net.cut()
        cut_at = time.monotonic()
        for i in range(3, 8):  # created while the leader is cut off: only the standby can bind
            api.create("pods", pod(f"p-{i}"), "default")
        second = wait_for(
            lambda: (h := holder()) and h != first and h, "the standby holding the lease", 30
        )
        takeover = time.monotonic() - cut_at
        wait_for(lambda: not leader.alive(), "the cut-off leader exiting after losing its lease")
        assert leader.proc is not None and leader.proc.returncode == 1
        wait_for(lambda: len(bound(api)) == 8 and all(bound(api).values()), "the standby binding")
        before_heal = bound(api)

        net.heal()
        healed_at = time.monotonic()
        # Converged: all eight bound once each, and the lease stays with the standby.
        wait_for(
            lambda: bound(api) == before_heal and sum(scheduled_events(api).values()) == 8,
            "one Scheduled event per pod",
        )
        converge = time.monotonic() - healed_at
        print(
            f"\nscheduler partition: standby leading {takeover:.1f} s after the cut; "
            f"time to converge after the partition heals: {converge:.2f} s"
        )
        # Proving that nothing happens: give a stale copy time to act twice (the lease is
        # 3 s in the test flags), then look again.
        time.sleep(4)
        assert bound(api) == before_heal
        assert max(scheduled_events(api).values()) == 1, scheduled_events(api)
        assert holder() == second
        assert standby.alive()
        assert converge < 10.0
