"""Timestamps in the two forms the API uses: RFC 3339 seconds and RFC 3339 micro."""

from __future__ import annotations

from datetime import UTC, datetime


def now_rfc3339() -> str:
    """Now, UTC, to the second (``2024-05-01T12:00:00Z``), as pod and node status use."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro() -> str:
    """Now with microseconds, as Lease ``renewTime`` (a MicroTime) uses."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_rfc3339(value: str | None) -> str | None:
    """Normalise an engine timestamp (nanoseconds, offsets) to RFC 3339 seconds, UTC.

    Docker reports ``0001-01-01T00:00:00Z`` for "never"; that becomes None.
    """
    dt = parse_time(value)
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str | None) -> datetime | None:
    """Parse an RFC 3339 timestamp (any fraction length, Z or offset); None if unset."""
    if not value or value.startswith("0001-01-01"):
        return None
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Python accepts at most 6 fractional digits; Docker gives 9.
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        i = 0
        while i < len(rest) and rest[i].isdigit():
            digits += rest[i]
            i += 1
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest[i:]}"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def seconds_between(start: str | None, end: str | None) -> float:
    """Seconds from ``start`` to ``end`` (0 when either is unknown)."""
    a, b = parse_time(start), parse_time(end)
    if a is None or b is None:
        return 0.0
    return (b - a).total_seconds()
