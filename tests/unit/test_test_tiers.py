"""The test tiers: each folder under tests/ marks its tests (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TESTS_DIR, tier_of


@pytest.mark.parametrize(
    ("relative", "tier"),
    [
        ("unit/test_x.py", "unit"),
        ("integration/test_x.py", "integration"),
        ("e2e/test_x.py", "e2e"),
        ("compat/test_x.py", "compat"),
        ("chaos/test_x.py", "chaos"),
        ("bench/bench_x.py", None),  # benchmarks are no tier: make bench runs them
        ("conftest.py", None),
    ],
)
def test_tier_of_a_test_file_is_its_folder(relative: str, tier: str | None) -> None:
    assert tier_of(TESTS_DIR / relative) == tier


def test_a_file_outside_tests_has_no_tier(tmp_path: Path) -> None:
    assert tier_of(tmp_path / "unit" / "test_x.py") is None


def test_this_test_is_marked_unit_and_not_another_tier(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None
    assert request.node.get_closest_marker("inprocess") is None
