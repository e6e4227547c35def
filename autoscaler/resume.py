"""A wake that does not finish (pure): after its resume timeout the box goes back to
asleep and may be tried again only after an exponential backoff (client.backoff's one
policy), never into a state that needs an admin."""

from __future__ import annotations

from dataclasses import dataclass

from client.backoff import Backoff


@dataclass
class WakeRecord:
    """One box's wake attempts: when the current one began, how many failed in a row,
    and the time before which it must not be tried again."""

    started: float | None = None
    failures: int = 0
    retry_at: float = 0.0


def timed_out(rec: WakeRecord, now: float, resume_timeout: float) -> bool:
    return rec.started is not None and now - rec.started >= resume_timeout


def fail(rec: WakeRecord, now: float, policy: Backoff) -> float:
    """Record a failed wake; returns the backoff before the next try."""
    rec.failures += 1
    rec.started = None
    wait = policy.delay(rec.failures)
    rec.retry_at = now + wait
    return wait


def may_try(rec: WakeRecord, now: float) -> bool:
    return rec.started is None and now >= rec.retry_at


def succeed(rec: WakeRecord) -> None:
    rec.started, rec.failures, rec.retry_at = None, 0, 0.0
