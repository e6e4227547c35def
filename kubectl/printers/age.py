"""Ages and durations the way kubectl prints them (``5s``, ``3m20s``, ``2h``, ``4d``)."""

from __future__ import annotations

from datetime import UTC, datetime

from api.durations import human_duration, parse_time


def now() -> datetime:
    """The current time (one place, so tests could pin it)."""
    return datetime.now(UTC)


def age(timestamp: str | None, at: datetime | None = None) -> str:
    """How long ago ``timestamp`` was, as kubectl's AGE column shows it (``<unknown>`` if unset)."""
    t = parse_time(timestamp)
    if t is None:
        return "<unknown>"
    return human_duration(((at or now()) - t).total_seconds())


def rfc3339(t: datetime | None = None) -> str:
    """A timestamp in the API's format (``2024-05-01T12:00:00Z``)."""
    return (t or now()).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
