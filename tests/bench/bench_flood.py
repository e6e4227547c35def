"""Overload: how long a Deployment's rolling update takes while one user floods the API,
against the same roll-out on the quiet cluster, in the same run, and whether any node
went NotReady meanwhile (issue 26's overload figure).

A cluster of the real components (apiserver, scheduler, controller manager, one hollow
kubelet simulating 3 nodes, fake runtime) runs a 60-replica Deployment. Each round changes
its pod template and times until every replica is updated and available. During the
flooded rounds a user with the edit role runs 64 connections that list pods and create
ConfigMaps as fast as they can from two processes, ignoring 429s (a runaway script, not a
polite client). Rounds alternate quiet and flooded; the medians are compared.
Target: the flooded roll-out within 1.5x of the quiet one, and no node NotReady.
"""

from __future__ import annotations

import argparse
import threading
import time
from typing import Any

from apiserver.auth import add_token
from tests.bench.common import QUICK, Results, median, workdir
from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster
from tests.flood import Flood

REPLICAS = 60
FLOODERS = 64


def deployment(image: str) -> dict[str, Any]:
    labels = {"app": "web"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": REPLICAS,
            "selector": {"matchLabels": labels},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": image}]},
            },
        },
    }


def rolled_out(c: Any, generation: int) -> bool:
    d = c.get("deployments", "web", "default")
    st = d.get("status") or {}
    return (
        st.get("observedGeneration", 0) >= generation
        and st.get("updatedReplicas") == REPLICAS
        and st.get("availableReplicas") == REPLICAS
        and st.get("replicas") == REPLICAS
    )


def roll(c: Any, image: str, timeout: float = 120) -> float:
    t0 = time.monotonic()
    d = c.patch(
        "deployments",
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}}},
        "default",
    )
    gen = int(d["metadata"]["generation"])
    while time.monotonic() - t0 < timeout:
        if rolled_out(c, gen):
            return time.monotonic() - t0
        time.sleep(0.05)
    raise TimeoutError(f"roll-out to {image} did not finish in {timeout:.0f} s")


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    res = Results("flood")
    wd = workdir("flood")
    rounds = 1 if quick else 3
    with Cluster(wd / "home") as cl:
        cl.add_scheduler()
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        cl.add_kubelet("node", *FAST_KUBELET_FLAGS, hollow=3)
        cl.wait_nodes_ready()
        names = cl.node_names()
        c = cl.api.client()
        token = add_token(cl.api.home / "tokens.csv", "runaway", ["system:authenticated"])
        c.create(
            "rolebindings",
            {
                "metadata": {"name": "runaway-edit"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "edit",
                },
                "subjects": [
                    {"kind": "User", "name": "runaway", "apiGroup": "rbac.authorization.k8s.io"}
                ],
            },
            "default",
        )
        c.create("deployments", deployment("busybox:1"), "default")
        roll(c, "busybox:2")  # warm: every replica exists and is available
        quiet: list[float] = []
        flooded: list[float] = []
        not_ready: set[str] = set()
        flood_codes: dict[str, int] = {}
        server = cl.api.url
        ca = str(cl.api.home / "pki" / "ca.crt")
        for r in range(rounds):
            quiet.append(roll(c, f"busybox:q{r}"))
            with Flood(server, token, ca, FLOODERS) as flood:
                time.sleep(1.0)  # the flood is at full strength before the roll-out starts
                watch_stop = threading.Event()

                def watch_nodes(watch_stop: threading.Event = watch_stop) -> None:
                    while not watch_stop.is_set():
                        ready = set(cl.ready_nodes())
                        not_ready.update(set(names) - ready)
                        time.sleep(0.5)

                t = threading.Thread(target=watch_nodes, daemon=True)
                t.start()
                try:
                    flooded.append(roll(c, f"busybox:f{r}"))
                finally:
                    watch_stop.set()
                    t.join()
            for k, v in flood.codes.items():
                flood_codes[k] = flood_codes.get(k, 0) + v
        q, f = median(quiet), median(flooded)
        res.add(
            f"Deployment roll-out ({REPLICAS} replicas) while one user floods the API ({FLOODERS} connections)",
            round(f, 2),
            "s",
            target="<= 1.5x quiet, no node NotReady",
            met=f <= 1.5 * q and not not_ready,
            peer=round(q, 2),
            peer_label="the same roll-out without the flood",
            higher_is_better=False,
            stats={
                "quiet": quiet,
                "flooded": flooded,
                "flood_replies": flood_codes,
                "nodes_not_ready": sorted(not_ready),
            },
        )
    return res.as_dict()
