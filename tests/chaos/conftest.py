"""Options of the chaos soak: how long to keep hurting the cluster."""

from __future__ import annotations

import pytest

DEFAULT_CHAOS_SECONDS = 110.0  # with start-up and the checks, about three minutes in all


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos-seconds",
        type=float,
        default=DEFAULT_CHAOS_SECONDS,
        help=f"seconds of fault injection in tests/chaos (default {DEFAULT_CHAOS_SECONDS:.0f}; "
        "`make chaos SECONDS_TO_RUN=N` sets it)",
    )


@pytest.fixture
def chaos_seconds(request: pytest.FixtureRequest) -> float:
    """How long the soak injects faults."""
    return float(request.config.getoption("--chaos-seconds"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The soak runs as long as asked: its timeout grows with it (start-up and checks aside).
    seconds = float(config.getoption("--chaos-seconds"))
    for item in items:
        if "chaos_seconds" in getattr(item, "fixturenames", []):
            item.add_marker(pytest.mark.timeout(seconds + 300))
