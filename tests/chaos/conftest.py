"""Options of the chaos soak: how long to keep hurting the cluster."""

from __future__ import annotations

import os

import pytest

# Fixed, so a failure replays the same faults; --chaos-seed (or KUBELAB_CHAOS_SEED) explores
# others, and a failure names the seed it ran with.
DEFAULT_CHAOS_SEED = 99
DEFAULT_CHAOS_SECONDS = 45.0  # with start-up and the checks, about a minute and a half


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--chaos-seconds",
        type=float,
        default=DEFAULT_CHAOS_SECONDS,
        help=f"seconds of fault injection in tests/chaos (default {DEFAULT_CHAOS_SECONDS:.0f}; "
        "`make chaos SECONDS_TO_RUN=N` sets it)",
    )
    parser.addoption(
        "--chaos-seed",
        type=int,
        default=int(os.environ.get("KUBELAB_CHAOS_SEED", DEFAULT_CHAOS_SEED)),
        help="seed of the fault injector and the workload in tests/chaos (default "
        f"$KUBELAB_CHAOS_SEED or {DEFAULT_CHAOS_SEED}); a failure names the seed to replay",
    )


@pytest.fixture
def chaos_seconds(request: pytest.FixtureRequest) -> float:
    """How long the soak injects faults."""
    return float(request.config.getoption("--chaos-seconds"))


@pytest.fixture
def chaos_seed(request: pytest.FixtureRequest) -> int:
    """The seed of the soak's faults and writes."""
    return int(request.config.getoption("--chaos-seed"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # The soak runs as long as asked: its timeout grows with it (start-up and checks aside).
    seconds = float(config.getoption("--chaos-seconds"))
    for item in items:
        if "chaos_seconds" in getattr(item, "fixturenames", []):
            item.add_marker(pytest.mark.timeout(seconds + 300))
