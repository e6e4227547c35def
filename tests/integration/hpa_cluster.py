"""One fake-runtime cluster for the HPA tests: the controller manager with a 1 s HPA sync
and no CPU warm-up (the fake pods' first samples come within a second of their start), a
3 s downscale window, and a kubelet reporting usage every second."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.cluster import FAST_CONTROLLER_FLAGS, FAST_KUBELET_FLAGS, Cluster, start_cluster

HPA_FLAGS = (
    "--horizontal-pod-autoscaler-sync-period",
    "1",
    "--horizontal-pod-autoscaler-downscale-stabilization",
    "3",
    "--horizontal-pod-autoscaler-cpu-initialization-period",
    "0",
)
USAGE = "kubelab.io/simulated-usage"  # the fake runtime's usage of a pod


@contextmanager
def hpa_cluster(home: Path) -> Iterator[Cluster]:
    c = start_cluster(
        home,
        nodes=1,
        controller_flags=(*FAST_CONTROLLER_FLAGS, *HPA_FLAGS),
        kubelet_flags=(*FAST_KUBELET_FLAGS, "--metrics-report-period", "1"),
    )
    try:
        c.wait_nodes_ready(timeout=60)
        yield c
    finally:
        c.stop()
