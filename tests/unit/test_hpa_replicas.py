"""The replica calculator's behaviours, as upstream's replica_calculator_test.go tables:
scale up and down, the tolerance, missing metrics, unready and ignored pods, the CPU
initialization window, AverageValue targets, and the errors."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.hpa.replicas import (
    MetricError,
    PodMetric,
    Tunables,
    average_value_replicas,
    resource_replicas,
)
from controllers.objutil import format_time

NOW = 1_000_000.0
T = Tunables()


def pod(
    name: str,
    request: str | None = "1",
    *,
    ready: str | None = "True",
    phase: str = "Running",
    started: float = NOW - 3600,
    ready_at: float = NOW - 3000,
    deleting: bool = False,
) -> dict[str, Any]:
    resources = {"requests": {"cpu": request}} if request is not None else {}
    p: dict[str, Any] = {
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"containers": [{"name": "app", "resources": resources}]},
        "status": {"phase": phase, "startTime": format_time(started)},
    }
    if ready is not None:
        p["status"]["conditions"] = [
            {"type": "Ready", "status": ready, "lastTransitionTime": format_time(ready_at)}
        ]
    if deleting:
        p["metadata"]["deletionTimestamp"] = format_time(NOW)
    return p


def usage(values: dict[str, int], at: float = NOW - 5) -> dict[str, PodMetric]:
    return {n: PodMetric(v, at, 15.0) for n, v in values.items()}


def names(n: int) -> list[str]:
    return [f"p{i}" for i in range(n)]


# (case, current, target %, pods, samples (millicores), want replicas, want utilization %)
CASES = [
    ("scale up", 3, 30, [pod(n) for n in names(3)], {"p0": 300, "p1": 500, "p2": 700}, 5, 50),
    (
        "scale down",
        5,
        50,
        [pod(n) for n in names(5)],
        {"p0": 100, "p1": 300, "p2": 500, "p3": 250, "p4": 250},
        3,
        28,
    ),
    (
        "within tolerance",
        3,
        100,
        [pod("p0", "900m"), pod("p1", "1"), pod("p2", "1100m")],
        {"p0": 1010, "p1": 1030, "p2": 1020},
        3,
        102,
    ),
    (
        "unready pods count as 0 % on a scale up",
        3,
        30,
        [pod("p0", ready="False", started=NOW - 60, ready_at=NOW - 60), pod("p1"), pod("p2")],
        {"p0": 300, "p1": 500, "p2": 700},
        4,
        60,
    ),
    (
        "unready pods are left out of a scale down",
        5,
        50,
        [
            *(pod(n) for n in names(3)),
            pod("p3", ready="False", started=NOW - 60, ready_at=NOW - 60),
            pod("p4", ready="False", started=NOW - 60, ready_at=NOW - 60),
        ],
        {"p0": 100, "p1": 300, "p2": 500, "p3": 1000, "p4": 1000},
        2,
        30,
    ),
    (
        "pending pods are unready (0 % on a scale up: 66 % of 65 is within the tolerance)",
        3,
        65,
        [pod("p0"), pod("p1"), pod("p2", phase="Pending", ready=None)],
        {"p0": 1000, "p1": 1000},
        3,
        100,
    ),
    (
        "deleted and failed pods are ignored",
        5,
        50,
        [
            *(pod(n) for n in names(3)),
            pod("p3", deleting=True),
            pod("p4", phase="Failed"),
        ],
        {"p0": 100, "p1": 300, "p2": 500, "p3": 4000, "p4": 4000},
        2,
        30,
    ),
    (
        "missing pods count as 100 % of request on a scale down",
        4,
        50,
        [pod(n) for n in names(4)],
        {"p0": 100, "p1": 100, "p2": 100},
        3,
        10,
    ),
    (
        "missing pods count as 0 % on a scale up, and a reversal keeps the count",
        5,
        70,
        [pod(n) for n in names(5)],
        {"p0": 800, "p1": 800, "p2": 800},
        5,
        80,
    ),
    (
        "missing pods at exactly the target change nothing",
        2,
        100,
        [pod(n) for n in names(2)],
        {"p0": 1000},
        2,
        100,
    ),
    (
        "a young pod's sample taken before a full window since it became ready is unready",
        3,
        30,
        [pod("p0", started=NOW - 60, ready_at=NOW - 10), pod("p1"), pod("p2")],
        {"p0": 300, "p1": 500, "p2": 700},
        4,
        60,
    ),
    (
        "an old pod that was ready once and is not now still counts",
        3,
        30,
        [pod("p0", ready="False", ready_at=NOW - 600), pod("p1"), pod("p2")],
        {"p0": 300, "p1": 500, "p2": 700},
        5,
        50,
    ),
    (
        "an old pod never ready since its start is unready",
        3,
        30,
        [pod("p0", ready="False", started=NOW - 3600, ready_at=NOW - 3590), pod("p1"), pod("p2")],
        {"p0": 300, "p1": 500, "p2": 700},
        4,
        60,
    ),
]


@pytest.mark.parametrize(
    ("current", "target", "pods", "samples", "want", "want_util"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_utilization_replicas(
    current: int,
    target: int,
    pods: list[dict[str, Any]],
    samples: dict[str, int],
    want: int,
    want_util: int,
) -> None:
    rec = resource_replicas(current, target, "cpu", pods, usage(samples), T, NOW)
    assert (rec.replicas, rec.utilization) == (want, want_util)


def test_tolerance_is_a_flag() -> None:
    pods = [pod(n) for n in names(3)]
    samples = usage({"p0": 1050, "p1": 1050, "p2": 1050})
    assert resource_replicas(3, 100, "cpu", pods, samples, T, NOW).replicas == 3
    tight = Tunables(tolerance=0.01)
    assert resource_replicas(3, 100, "cpu", pods, samples, tight, NOW).replicas == 4


def test_memory_ignores_cpu_readiness() -> None:
    """Only CPU samples wait for the initialization window (memory is not burst-y)."""
    pods = [pod("p0", started=NOW - 60, ready_at=NOW - 10), pod("p1")]
    for p in pods:
        p["spec"]["containers"][0]["resources"]["requests"] = {"memory": "100Mi"}
    mi = 1024 * 1024 * 1000
    rec = resource_replicas(2, 50, "memory", pods, usage({"p0": 100 * mi, "p1": 100 * mi}), T, NOW)
    assert (rec.replicas, rec.utilization) == (4, 100)


def test_average_value() -> None:
    pods = [pod(n) for n in names(3)]
    rec = average_value_replicas(
        3, 1000, "cpu", pods, usage({"p0": 1000, "p1": 2000, "p2": 3000}), T, NOW
    )
    assert (rec.replicas, rec.average) == (6, 2000)
    # Missing pods are taken at the target on a scale down: (100 + 3 × 1000) / 4 = 775 per
    # pod, 0.775 of the target → ceil(3.1) = 4 (not ceil(0.1 × 1) = 1).
    pods = [pod(n) for n in names(4)]
    rec = average_value_replicas(4, 1000, "cpu", pods, usage({"p0": 100}), T, NOW)
    assert rec.replicas == 4


def test_container_filter() -> None:
    p = pod("p0")
    p["spec"]["containers"].append({"name": "sidecar", "resources": {}})
    rec = resource_replicas(1, 50, "cpu", [p], usage({"p0": 1000}), T, NOW, container="app")
    assert rec.replicas == 2
    with pytest.raises(MetricError, match="missing request for cpu in container sidecar of Pod p0"):
        resource_replicas(1, 50, "cpu", [p], usage({"p0": 1000}), T, NOW)


@pytest.mark.parametrize(
    ("pods", "samples", "message"),
    [
        ([], {}, "no pods returned by selector while calculating replica count"),
        (
            [pod("p0", phase="Pending", ready=None)],
            {},
            "did not receive metrics for targeted pods (pods might be unready)",
        ),
        ([pod("p0", request=None)], {"p0": 100}, "missing request for cpu in container app"),
    ],
)
def test_errors(pods: list[dict[str, Any]], samples: dict[str, int], message: str) -> None:
    with pytest.raises(MetricError) as exc:
        resource_replicas(1, 50, "cpu", pods, usage(samples), T, NOW)
    assert message in str(exc.value)
