"""Ages and durations the way kubectl prints them (``5s``, ``3m20s``, ``2h``, ``4d``)."""

from __future__ import annotations

from datetime import UTC, datetime


def human_duration(seconds: float) -> str:
    """kubectl's ``duration.HumanDuration``: short, with more precision for young things.

    ``< 2m`` in seconds, ``< 10m`` as ``XmYs``, ``< 3h`` in minutes, ``< 8h`` as ``XhYm``,
    ``< 48h`` in hours, ``< 8d`` as ``XdYh``, ``< 2y`` in days, then years.
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def parse_time(value: str | None) -> datetime | None:
    """Parse an RFC 3339 timestamp as the API writes it; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


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
