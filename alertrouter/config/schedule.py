"""NCRONTAB schedules (the Functions timer format: six fields, seconds first) in a named time zone.

    "0 0 8 * * Mon"   every Monday at 08:00 in the schedule's zone

Parsing and iteration come from croniter (`second_at_beginning=True`); this module only insists on
the six fields the Functions host requires and works in the schedule's IANA zone, so daylight
saving changes move the UTC instant, not the local hour.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter


def schedule_problem(expr: str) -> str | None:
    """None when `expr` is a valid six-field NCRONTAB expression, else what is wrong and how to fix it."""
    fields = str(expr).split()
    if len(fields) != 6:
        return (f'schedule "{expr}" has {len(fields)} fields; NCRONTAB needs 6 '
                '({second} {minute} {hour} {day} {month} {day-of-week}), e.g. "0 0 8 * * Mon"')
    if not croniter.is_valid(expr, second_at_beginning=True):
        return f'schedule "{expr}" is not a valid NCRONTAB expression, e.g. "0 0 8 * * Mon"'
    return None


def next_fire(expr: str, after: datetime, tz: str = "UTC") -> datetime:
    """The first time the schedule fires strictly after `after` (aware), in zone `tz`."""
    return croniter(expr, after.astimezone(ZoneInfo(tz)), second_at_beginning=True).get_next(datetime)


def previous_fire(expr: str, before: datetime, tz: str = "UTC") -> datetime:
    """The last time the schedule fired at or before `before` (aware), in zone `tz`."""
    local = before.astimezone(ZoneInfo(tz)) + timedelta(seconds=1)
    return croniter(expr, local, second_at_beginning=True).get_prev(datetime)
