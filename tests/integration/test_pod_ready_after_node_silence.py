"""A node that goes silent for a moment and comes back: the node lifecycle controller marks
its pods NotReady (reason NodeNotReady) once the grace period passes; when the kubelet is
heard again its pods must be Ready again, the same pods, not replacements.

This is the chaos soak's stuck Deployment (issue 26): kubelets restarted, then the
apiserver killed, left every pod Running and NotReady on Ready nodes, because the kubelet
compared each status with its own last write and never saw the controller's NotReady.
Here the silence is a SIGSTOP of the kubelet process, so the sequence is the same every
run; eviction is set far off so that the pods stay where they are.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from tests.cluster import FAST_CONTROLLER_FLAGS, start_cluster
from tests.integration.ctrl_cluster import deployment, is_ready, live_pods, rollout_done
from tests.wait import wait_for

NS = "default"


def _controller_flags() -> list[str]:
    """The fast flags, with eviction 60 s after the taint instead of 2 s."""
    flags = list(FAST_CONTROLLER_FLAGS)
    flags[flags.index("--pod-eviction-timeout") + 1] = "60"
    return flags


# The pods' own tolerations of the unreachable taint decide their eviction (the apiserver
# adds them, as Kubernetes' DefaultTolerationSeconds): 60 s too, after the fast 2 s.
SLOW_EVICTION_APISERVER_FLAGS = (
    "--default-not-ready-toleration-seconds",
    "60",
    "--default-unreachable-toleration-seconds",
    "60",
)


def _not_ready_by_node_controller(p: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready"
        and c.get("status") == "False"
        and c.get("reason") == "NodeNotReady"
        for c in (p.get("status") or {}).get("conditions") or []
    )


def test_pods_marked_not_ready_during_node_silence_are_ready_again(tmp_path: Path) -> None:
    cl = start_cluster(
        tmp_path / "home",
        nodes=1,
        controller_flags=_controller_flags(),
        apiserver_args=SLOW_EVICTION_APISERVER_FLAGS,
    )
    kubelet = cl.components[f"kubelet/{cl.node_name}"]
    assert kubelet.proc is not None
    stopped = False
    try:
        cl.wait_nodes_ready(timeout=30)
        c = cl.client
        c.create("deployments", deployment("quiet", 2), NS)
        wait_for(lambda: rollout_done(c.get("deployments", "quiet", NS)), "rollout", 60)
        before = {p["metadata"]["uid"] for p in live_pods(c, NS, "app=quiet")}
        assert len(before) == 2

        os.kill(kubelet.proc.pid, signal.SIGSTOP)
        stopped = True
        wait_for(
            lambda: all(_not_ready_by_node_controller(p) for p in live_pods(c, NS, "app=quiet")),
            "pods marked NotReady by the node lifecycle controller",
            30,
        )
        os.kill(kubelet.proc.pid, signal.SIGCONT)
        stopped = False

        cl.wait_nodes_ready(timeout=30)

        def same_pods_ready() -> bool:
            pods = live_pods(c, NS, "app=quiet")
            return {p["metadata"]["uid"] for p in pods} == before and all(map(is_ready, pods))

        wait_for(same_pods_ready, "the same pods Ready again", 30, diagnostics=cl.logs)
        wait_for(lambda: rollout_done(c.get("deployments", "quiet", NS)), "Deployment available")
    finally:
        if stopped:
            os.kill(kubelet.proc.pid, signal.SIGCONT)
        cl.stop()
