"""Named time windows (business hours, weekends, quiet hours) in an IANA zone.

A role or route `muted_during` a window waits until the window ends; `active_during` windows
make it wait until the next one begins. Waiting notifications are kept (pending, due later), never
dropped: pages simply have no such window, so they go through quiet hours.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..config.schema import DAYS, TimeWindow


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def inside(window: TimeWindow, at: datetime) -> bool:
    local = at.astimezone(ZoneInfo(window.time_zone))
    day = DAYS[local.weekday()]
    minute = local.hour * 60 + local.minute
    return any(day in r.days and _minutes(r.start) <= minute < _minutes(r.end) for r in window.ranges)


def _boundaries(windows: list[TimeWindow], at: datetime, days: int = 8) -> list[datetime]:
    """Every range start and end in the next `days` days, as aware instants, sorted."""
    out = set()
    for w in windows:
        zone = ZoneInfo(w.time_zone)
        local = at.astimezone(zone)
        for d in range(-1, days):
            date = (local + timedelta(days=d)).date()
            for r in w.ranges:
                for hhmm in (r.start, r.end):
                    mins = _minutes(hhmm)
                    t = datetime(date.year, date.month, date.day, tzinfo=zone) + timedelta(minutes=mins)
                    if t > at:
                        out.add(t)
    return sorted(out)


def wait_until(at: datetime, muted: list[TimeWindow], active: list[TimeWindow]) -> datetime | None:
    """None when a notification may go at `at`; otherwise the first instant when it may."""
    def allowed(t: datetime) -> bool:
        return not any(inside(w, t) for w in muted) and (not active or any(inside(w, t) for w in active))

    if allowed(at):
        return None
    for t in _boundaries(muted + active, at):
        if allowed(t):
            return t
    return at + timedelta(days=8)  # windows that never open: try again in a week rather than never
