"""The HorizontalPodAutoscaler on real usage (issue 20 item 4): a Docker container that
spins a core, read from its cgroup by the kubelet, scales its Deployment from 1 to the
HPA's max; once the spinning stops it goes back to 1, but not before the (shortened)
downscale stabilization window has passed since the load ended. The events name both
decisions with the CPU utilisation they saw."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import pytest

from tests.e2e.hpa_lab import HpaLab, hpa_lab
from tests.wait import wait_for

pytestmark = [pytest.mark.docker, pytest.mark.timeout(240)]

WINDOW = 8.0  # seconds of downscale stabilization
FLAGS = (
    "--horizontal-pod-autoscaler-sync-period",
    "1",
    "--horizontal-pod-autoscaler-downscale-stabilization",
    str(WINDOW),
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HpaLab]:
    import docker

    try:
        docker.from_env().ping()
    except Exception as e:  # noqa: BLE001 - any reason the engine is unreachable
        pytest.skip(f"Docker unavailable: {e}")
    wd = tmp_path_factory.mktemp("hpa-docker")
    try:
        with hpa_lab(wd, FLAGS, ("--metrics-report-period", "1")) as it:
            yield it
    finally:
        shutil.rmtree(wd, ignore_errors=True)


def test_a_spinning_container_scales_up_and_back_down_after_the_window(lab: HpaLab) -> None:
    lab.burner("burn", cpu_request="100m")
    wait_for(lambda: lab.ready_pods("burn") == 1, "the burner's pod Ready", 60)
    lab.hpa("burn", max_replicas=3)

    def idle_seen() -> bool:
        status = lab.api.get("horizontalpodautoscalers", "burn", "default").get("status") or {}
        return bool(status.get("currentMetrics")) and status.get("desiredReplicas") == 1

    # Idle first: an HPA that scaled without load would pass what follows for nothing.
    wait_for(idle_seen, "the HPA seeing the idle pod at one replica", 60)
    time.sleep(3)
    assert lab.replicas("burn") == 1

    first = str(lab.pods("burn")[0]["metadata"]["name"])
    lab.load(first, on=True)
    wait_for(lambda: lab.replicas("burn") == 3, "the HPA scaling to its max under load", 60)
    wait_for(lambda: lab.ready_pods("burn") == 3, "three pods Ready", 60)
    ups = [m for r, m in lab.events("burn") if r == "SuccessfulRescale" and "above target" in m]
    assert ups and "cpu resource utilization" in ups[0], lab.events("burn")

    # The spinning pod keeps the average above target at 3 replicas: it stays there.
    time.sleep(3)
    assert lab.replicas("burn") == 3

    lab.load(first, on=False)
    stopped = time.monotonic()
    wait_for(lambda: lab.replicas("burn") == 1, "the HPA scaling back down to 1", 90)
    took = time.monotonic() - stopped
    # The last high recommendation is no earlier than the load's end: no scale-down before
    # the window has passed since then (half a second for the test's own polling).
    assert took >= WINDOW - 0.5, took
    downs = [m for r, m in lab.events("burn") if r == "SuccessfulRescale" and "below target" in m]
    assert downs and "New size: 1" in downs[-1], lab.events("burn")
