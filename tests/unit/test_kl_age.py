"""AGE formatting must match kubectl's HumanDuration exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from kubectl.printers.age import age, human_duration, parse_time, rfc3339


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-0.5, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (125, "2m5s"),
        (599, "9m59s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 25 * 60, "3h25m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (4 * 86400 + 5 * 3600, "4d5h"),
        (8 * 86400, "8d"),
        (400 * 86400, "400d"),
        (2 * 365 * 86400, "2y"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_kubectl(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_age_from_timestamp() -> None:
    at = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert age("2024-05-01T11:57:00Z", at) == "3m"
    assert age("2024-04-27T12:00:00Z", at) == "4d"
    assert age(None, at) == "<unknown>"
    assert age("not a time", at) == "<unknown>"


def test_parse_time_accepts_offsets_and_round_trips() -> None:
    t = parse_time("2024-05-01T12:00:00+02:00")
    assert t is not None and t.utcoffset() == timedelta(hours=2)
    assert rfc3339(datetime(2024, 5, 1, 10, 0, tzinfo=UTC)) == "2024-05-01T10:00:00Z"
    assert parse_time(rfc3339(datetime(2024, 5, 1, 10, 0, tzinfo=UTC))) == datetime(
        2024, 5, 1, 10, 0, tzinfo=UTC
    )
