"""client.backoff: the one exponential backoff policy, its loop and per-key counters."""

from __future__ import annotations

import math

import pytest

from client.backoff import Backoff


def test_delay_doubles_from_initial_up_to_the_cap() -> None:
    b = Backoff(0.5, cap=4.0)
    assert [b.delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert b.delay(0) == b.delay(-3) == 0.5  # "before the first retry" counts as the first


def test_other_factors_and_no_cap() -> None:
    assert [Backoff(1.0, factor=3.0).delay(n) for n in (1, 2, 3)] == [1.0, 3.0, 9.0]
    assert Backoff(1.0, factor=1.0).delay(50) == 1.0  # a constant interval
    assert Backoff(0.005).delay(5000) == math.inf  # uncapped: grows without overflow errors
    assert Backoff(0.005, cap=1000.0).delay(10**6) == 1000.0


def test_jitter_spreads_around_the_delay_within_its_fraction() -> None:
    b = Backoff(1.0, cap=8.0, jitter=0.2)
    assert b.delay(1, rand=lambda: 0.0) == pytest.approx(0.8)
    assert b.delay(1, rand=lambda: 0.5) == pytest.approx(1.0)
    assert b.delay(4, rand=lambda: 1.0) == pytest.approx(9.6)  # the cap, then the spread
    seen = {round(b.delay(2), 6) for _ in range(200)}
    assert len(seen) > 100 and min(seen) >= 1.6 and max(seen) <= 2.4


def test_bad_policies_are_refused() -> None:
    for kwargs in ({"factor": 0.5}, {"cap": -1.0}, {"jitter": 1.0}, {"jitter": -0.1}):
        with pytest.raises(ValueError, match="backoff needs"):
            Backoff(1.0, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Backoff(-1.0)


def test_retry_grows_with_consecutive_failures_and_starts_over_after_success() -> None:
    r = Backoff(0.1, cap=0.4).retry()
    assert [r.failed() for _ in range(4)] == [0.1, 0.2, 0.4, 0.4]
    assert r.failures == 4
    r.succeeded()
    assert r.failures == 0 and r.failed() == 0.1


def test_keyed_backoff_counts_each_key_on_its_own() -> None:
    k = Backoff(1.0, cap=8.0).per_key()
    assert [k.failed("a") for _ in range(3)] == [1.0, 2.0, 4.0]
    assert k.next_delay("a") == 8.0 and k.failures("a") == 3  # next_delay does not count
    assert k.failed("b") == 1.0 and len(k) == 2
    k.forget("a")
    assert k.failures("a") == 0 and k.failed("a") == 1.0
    k.forget("never-seen")  # forgetting an unknown key is harmless
