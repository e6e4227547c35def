"""CronJob schedules: parsing (croniter) and the start times between two instants, in the
CronJob's time zone (zoneinfo), as Kubernetes' robfig/cron standard parser reads them:
five fields or a descriptor (@yearly, @monthly, @weekly, @daily, @midnight, @hourly)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter

DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# Time.LoadLocation's rule for each path element of a zone name.
_TZ_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


class ScheduleError(ValueError):
    """A schedule or time zone that cannot be used; the message says why."""


def parse_schedule(schedule: str) -> str:
    """The five-field expression of ``schedule``; ScheduleError when it is not one."""
    text = schedule.strip()
    if "TZ" in text:
        raise ScheduleError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if text.startswith("@"):
        if text not in DESCRIPTORS:
            raise ScheduleError(f"unrecognized descriptor: {text}")
        return DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: [{text}]")
    try:
        croniter(text)
    except (CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError) as e:
        raise ScheduleError(str(e)) from e
    return text


def parse_time_zone(name: str | None) -> tzinfo:
    """The zone of a CronJob's ``timeZone`` (UTC when unset, as kube-controller-manager
    runs in UTC); ScheduleError worded as Go's LoadLocation."""
    if name is None or name == "":
        return UTC
    if name.lower() == "local":
        raise ScheduleError(
            "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
        )
    if not all(_TZ_PART.match(p) for p in name.split("/")):
        raise ScheduleError(f"unknown time zone {name}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ScheduleError(f"unknown time zone {name}") from e


def most_recent(
    schedule: str, zone: tzinfo, earliest: float, now: float, limit: int = 100
) -> tuple[float | None, int]:
    """The latest start time t with earliest < t <= now, and how many there are (counted
    up to ``limit`` + 1: Kubernetes only says "more than 100")."""
    expr = parse_schedule(schedule)
    it = croniter(expr, datetime.fromtimestamp(earliest, zone))
    count = 0
    t = float(it.get_next(float))
    if t > now:
        return None, 0
    while t <= now and count <= limit:
        count += 1
        last = t
        t = float(it.get_next(float))
    if t <= now:
        # Too many to walk: the latest one counted back from now.
        back = croniter(expr, datetime.fromtimestamp(now + 1, zone))
        last = float(back.get_prev(float))
    return last, count


def next_start(schedule: str, zone: tzinfo, after: float) -> float:
    """The first start time after ``after``."""
    it = croniter(parse_schedule(schedule), datetime.fromtimestamp(after, zone))
    return float(it.get_next(float))
