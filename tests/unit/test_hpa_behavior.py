"""Stabilization windows, scaling policies and selectPolicy, as upstream's
horizontal_test.go normalization tables."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from api.hpa import SCALE_DOWN_RULES, SCALE_UP_RULES
from controllers.hpa.behavior import (
    History,
    Sample,
    record_scale,
    scale_down_limit,
    scale_up_limit,
    with_behavior,
    without_behavior,
)

NOW = 10_000.0


def behavior(
    up: dict[str, Any] | None = None, down: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "scaleUp": {**copy.deepcopy(SCALE_UP_RULES), **(up or {})},
        "scaleDown": {**copy.deepcopy(SCALE_DOWN_RULES), **(down or {})},
    }


def pods_policy(value: int, period: int = 60) -> list[dict[str, Any]]:
    return [{"type": "Pods", "value": value, "periodSeconds": period}]


@pytest.mark.parametrize(
    ("rules", "current", "events", "want"),
    [
        (SCALE_UP_RULES, 1, [], 5),  # max(1 + 4 pods, 1 × 200 %)
        (SCALE_UP_RULES, 10, [], 20),  # max(10 + 4, 10 × 200 %)
        ({**SCALE_UP_RULES, "selectPolicy": "Min"}, 10, [], 14),
        ({**SCALE_UP_RULES, "selectPolicy": "Disabled"}, 10, [], 10),
        # 4 added 5 s ago count against this period: it started at 1.
        (SCALE_UP_RULES, 5, [Sample(NOW - 5, 4)], 5),
        # ... but not once the 15 s period is over.
        (SCALE_UP_RULES, 5, [Sample(NOW - 20, 4)], 10),
    ],
)
def test_scale_up_limit(
    rules: dict[str, Any], current: int, events: list[Sample], want: int
) -> None:
    assert scale_up_limit(current, events, rules, NOW) == want


@pytest.mark.parametrize(
    ("rules", "current", "events", "want"),
    [
        (SCALE_DOWN_RULES, 8, [], 0),  # 100 % per 15 s: all the way (to minReplicas)
        ({"policies": pods_policy(1)}, 8, [], 7),
        ({"policies": pods_policy(1)}, 7, [Sample(NOW - 30, 1)], 7),  # spent this minute
        (
            {
                "selectPolicy": "Min",
                "policies": [
                    *pods_policy(1),
                    {"type": "Percent", "value": 50, "periodSeconds": 60},
                ],
            },
            8,
            [],
            7,
        ),
        (
            {"policies": [*pods_policy(1), {"type": "Percent", "value": 50, "periodSeconds": 60}]},
            8,
            [],
            4,
        ),
        ({**SCALE_DOWN_RULES, "selectPolicy": "Disabled"}, 8, [], 8),
    ],
)
def test_scale_down_limit(
    rules: dict[str, Any], current: int, events: list[Sample], want: int
) -> None:
    assert scale_down_limit(current, events, rules, NOW) == want


def test_scale_up_is_limited_by_rate() -> None:
    n = with_behavior(History(), behavior(), 1, 10, 1, 20, 300, NOW)
    assert n.replicas == 5
    assert (n.scaling_limited.status, n.scaling_limited.reason) == ("True", "ScaleUpLimit")
    assert n.able_to_scale.reason == "ReadyForNewScale"


def test_scale_up_is_limited_by_max() -> None:
    n = with_behavior(History(), behavior(), 4, 10, 1, 6, 300, NOW)
    assert n.replicas == 6
    assert (n.scaling_limited.status, n.scaling_limited.reason) == ("True", "TooManyReplicas")


def test_scale_down_is_stabilized_for_the_window() -> None:
    h = History(recommendations=[Sample(NOW - 100, 8)])
    n = with_behavior(h, behavior(), 8, 2, 1, 10, 300, NOW)
    assert n.replicas == 8
    assert n.able_to_scale.reason == "ScaleDownStabilized"
    # The window's own length comes from the HPA when it names one.
    h = History(recommendations=[Sample(NOW - 100, 8)])
    n = with_behavior(h, behavior(down={"stabilizationWindowSeconds": 60}), 8, 2, 1, 10, 300, NOW)
    assert (n.replicas, n.scaling_limited.reason) == (2, "DesiredWithinRange")
    assert n.scaling_limited.status == "False"


def test_scale_down_rate_and_min() -> None:
    n = with_behavior(History(), behavior(down={"policies": pods_policy(1)}), 8, 2, 1, 10, 0, NOW)
    assert (n.replicas, n.scaling_limited.reason) == (7, "ScaleDownLimit")
    n = with_behavior(History(), behavior(), 8, 0, 3, 10, 0, NOW)
    assert (n.replicas, n.scaling_limited.reason) == (3, "TooFewReplicas")


def test_scale_up_stabilization_uses_the_lowest_recent_recommendation() -> None:
    h = History(recommendations=[Sample(NOW - 30, 3)])
    n = with_behavior(h, behavior(up={"stabilizationWindowSeconds": 60}), 3, 6, 1, 10, 300, NOW)
    assert (n.replicas, n.able_to_scale.reason) == (3, "ScaleUpStabilized")
    assert [s.value for s in h.recommendations] == [3, 6]  # the raw one is remembered


def test_recorded_scale_events_feed_the_next_limit() -> None:
    h = History()
    b = behavior()
    record_scale(h, b, 1, 5, NOW)
    n = with_behavior(h, b, 5, 40, 1, 100, 300, NOW + 1)
    assert n.replicas == 5  # the period's budget (from 1: max(1 + 4, 2)) is spent
    n = with_behavior(h, b, 5, 40, 1, 100, 300, NOW + 16)
    assert n.replicas == 10


def test_without_behavior_legacy_rules() -> None:
    n = without_behavior(History(), 1, 10, 1, 20, 300, NOW)
    assert (n.replicas, n.scaling_limited.reason) == (4, "ScaleUpLimit")  # max(2 × 1, 4)
    h = History(recommendations=[Sample(NOW - 100, 6)])
    n = without_behavior(h, 6, 2, 1, 20, 300, NOW)
    assert (n.replicas, n.able_to_scale.reason) == (6, "ScaleDownStabilized")
    n = without_behavior(History(), 6, 2, 1, 20, 300, NOW)
    assert (n.replicas, n.scaling_limited.status) == (2, "False")
