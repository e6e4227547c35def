"""The probe result state machine and port resolution (Kubernetes semantics)."""

from __future__ import annotations

import pytest

from kubelet.probes import (
    LIVENESS,
    READINESS,
    STARTUP,
    ProbeOutcome,
    ProbeState,
    ProbeTarget,
    resolve_port,
)

OK, FAIL = ProbeOutcome(True), ProbeOutcome(False, "connection refused")


def test_defaults() -> None:
    s = ProbeState(READINESS, {"httpGet": {"port": 80}})
    assert (s.initial_delay, s.period, s.timeout) == (0, 10, 1)
    assert (s.success_threshold, s.failure_threshold) == (1, 3)


def test_initial_results() -> None:
    assert ProbeState(LIVENESS, {}).ok is True
    assert ProbeState(READINESS, {}).ok is False
    assert ProbeState(STARTUP, {}).ok is False


def test_liveness_flips_after_failure_threshold_consecutive_failures() -> None:
    s = ProbeState(LIVENESS, {"failureThreshold": 3})
    assert not s.observe(FAIL) and s.ok
    assert not s.observe(FAIL) and s.ok
    assert not s.observe(OK) and s.ok  # a success resets the count
    assert not s.observe(FAIL)
    assert not s.observe(FAIL)
    assert s.observe(FAIL) and not s.ok
    assert s.last_message == "connection refused"


def test_readiness_needs_success_threshold_to_recover() -> None:
    s = ProbeState(READINESS, {"successThreshold": 2, "failureThreshold": 1})
    assert not s.observe(OK) and not s.ok
    assert s.observe(OK) and s.ok
    assert s.observe(FAIL) and not s.ok
    assert not s.observe(OK)
    assert s.observe(OK) and s.ok


def test_reset_after_restart() -> None:
    s = ProbeState(LIVENESS, {"failureThreshold": 1})
    s.observe(FAIL)
    assert not s.ok
    s.reset_failures()
    assert s.ok and s.failures == 0


def test_resolve_port_numbers_names_and_publishing() -> None:
    t = ProbeTarget("127.0.0.1", {80: 31080, 9000: 39000}, {"http": 80, "metrics": 9000})
    assert resolve_port(80, t) == 31080
    assert resolve_port("80", t) == 31080
    assert resolve_port("metrics", t) == 39000
    assert resolve_port(8080, t) == 8080  # not published: the port itself
    with pytest.raises(ValueError, match="not declared"):
        resolve_port("admin", t)
