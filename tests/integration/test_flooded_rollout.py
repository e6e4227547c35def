"""A flooded rollout (issue 26 item 3): one user floods the API (request loops ignoring
429s, and a thousand watches) while a Deployment rolls out; the rollout finishes within a
bound of the same rollout on the quiet cluster, no node goes NotReady, and the flooder was
really turned away (429s for requests and for watches past the per-user limit).

The load is sized for a 2-core machine: a small per-user share (4 requests in flight, 50
ms of queueing, 200 watches) makes the limits bite without a flood that eats both cores."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from apiserver.auth import add_token
from tests.bench.bench_flood import deployment, roll
from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster
from tests.flood import Flood
from tests.wait import wait_for

CONNECTIONS = 16
WATCHES = 1000
WATCH_LIMIT = 200
APISERVER_FLAGS = (
    "--max-requests-per-user",
    "4",
    "--flow-queue-wait",
    "0.05",
    "--max-watches-per-user",
    str(WATCH_LIMIT),
)


def grant_edit(c: Any, user: str) -> None:
    c.create(
        "rolebindings",
        {
            "metadata": {"name": f"{user}-edit"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": "edit",
            },
            "subjects": [{"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}],
        },
        "default",
    )


def refused_watch(server: str, token: str, ca: str) -> dict[str, Any]:
    """The Status of one more watch of the flooding user, its share full."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server, headers=headers, verify=ca, timeout=10) as http:
        for _ in range(20):
            with http.stream("GET", "/api/v1/namespaces/default/configmaps?watch=1") as r:
                if r.status_code == 429:
                    assert r.headers.get("Retry-After") == "1"
                    r.read()
                    return dict(r.json())
            time.sleep(0.2)  # a flooder's watch had just ended: its slot is taken back soon
    raise AssertionError("no watch of the flooding user was refused")


def test_a_rollout_completes_while_one_user_floods_the_api(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home", apiserver_args=APISERVER_FLAGS) as cl:
        cl.add_scheduler()
        cl.add_controllers(*FAST_CONTROLLER_FLAGS)
        cl.add_kubelet("node", *FAST_KUBELET_FLAGS, hollow=3)
        cl.wait_nodes_ready()
        names = set(cl.node_names())
        c = cl.api.client()
        token = add_token(cl.api.home / "tokens.csv", "runaway", ["system:authenticated"])
        grant_edit(c, "runaway")
        c.create("deployments", deployment("busybox:1"), "default")
        roll(c, "busybox:2")  # warm: every replica exists and is available
        quiet = roll(c, "busybox:quiet")

        not_ready: set[str] = set()
        watching = threading.Event()

        def watch_nodes() -> None:
            while not watching.is_set():
                not_ready.update(names - set(cl.ready_nodes()))
                time.sleep(0.5)

        ca = str(cl.api.home / "pki" / "ca.crt")
        with Flood(cl.api.url, token, ca, CONNECTIONS, watches=WATCHES) as flood:
            # The flood at full strength first: its share of watches full, the rest refused.
            wait_for(
                lambda: (
                    flood.watch_codes.get("2xx", 0) >= WATCH_LIMIT
                    and flood.watch_codes.get("429", 0) >= WATCHES - WATCH_LIMIT
                ),
                f"{WATCHES} watches tried, {WATCH_LIMIT} open",
                90,
            )
            t = threading.Thread(target=watch_nodes, daemon=True)
            t.start()
            try:
                flooded = roll(c, "busybox:flooded")
                # Heartbeats keep going through a longer flood than the rollout: past the
                # node monitor grace period (4 s in the fast flags).
                time.sleep(max(0.0, 5.0 - flooded))
            finally:
                watching.set()
                t.join()
            # The watch limit as a client sees it: a Status naming the limit and the fix.
            status = refused_watch(cl.api.url, token, ca)
        print(
            f"\nflooded rollout: {flooded:.2f} s under the flood against {quiet:.2f} s quiet; "
            f"requests {flood.codes}, watches {flood.watch_codes}"
        )
        assert status["code"] == 429 and status["reason"] == "TooManyRequests", status
        assert f"limit {WATCH_LIMIT}" in status["message"], status
        assert "--max-watches-per-user" in status["message"], status
        assert not not_ready, f"nodes went NotReady under the flood: {sorted(not_ready)}"
        assert flood.codes.get("429", 0) > 0, flood.codes
        assert flood.watch_codes.get("429", 0) > 0, flood.watch_codes
        assert flood.watch_codes.get("2xx", 0) >= WATCH_LIMIT, flood.watch_codes
        assert flooded <= 2.0 * quiet + 5.0, (flooded, quiet)
