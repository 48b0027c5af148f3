"""A digest's period: whole local days in the digest's time zone, [start, end).

A weekly digest that fires on Monday 08:00 covers the seven local days before that Monday:
Monday 00:00 to the next Monday 00:00 in its zone. Across a daylight-saving change the period is
still seven local days (the week of the last Sunday of October in Europe/Berlin is 169 hours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from ..config.schedule import previous_fire

UTC = timezone.utc


def local_midnight(day: date, tz: str) -> datetime:
    """The instant day `day` starts in zone `tz` (where midnight is skipped, the first instant after the gap)."""
    return datetime.combine(day, time(0), ZoneInfo(tz)).astimezone(UTC).astimezone(ZoneInfo(tz))


@dataclass(frozen=True)
class Period:
    first_day: date  # local date of the first day
    days_count: int
    tz: str

    # start and end are in UTC: Python compares and subtracts two datetimes of the *same* zone by
    # their wall clocks, which is wrong across a DST change; in UTC it is always the instant.
    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return local_midnight(self.end_day, self.tz).astimezone(UTC)

    @property
    def start_local(self) -> datetime:
        return local_midnight(self.first_day, self.tz)

    @property
    def end_local(self) -> datetime:
        return local_midnight(self.end_day, self.tz)

    @property
    def end_day(self) -> date:
        """The first local day after the period (the day a Monday digest is sent)."""
        return self.first_day + timedelta(days=self.days_count)

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days_count)]

    @property
    def key(self) -> str:
        """What identifies this period in the 'digest sent' record: its local start, with offset."""
        return self.start_local.isoformat()

    def previous(self) -> "Period":
        return Period(self.first_day - timedelta(days=self.days_count), self.days_count, self.tz)

    def contains(self, t: datetime) -> bool:
        return self.start <= t.astimezone(UTC) < self.end

    def day_of(self, t: datetime) -> date:
        """The local day an instant falls on, in the period's zone."""
        return t.astimezone(ZoneInfo(self.tz)).date()

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def label(self) -> str:
        last = self.end_day - timedelta(days=1)
        if self.days_count == 1:
            return f"{self.first_day:%a %d %b %Y}"
        if self.first_day.year != last.year:
            return f"{self.first_day:%d %b %Y} – {last:%d %b %Y}"
        if self.first_day.month != last.month:
            return f"{self.first_day:%d %b} – {last:%d %b %Y}"
        return f"{self.first_day:%d} – {last:%d %b %Y}"


def period_ending(end_day: date, days: int, tz: str) -> Period:
    """The `days` local days before `end_day` (which is not included)."""
    return Period(end_day - timedelta(days=days), days, tz)


def period_for_fire(fire: datetime, days: int, tz: str) -> Period:
    """The period a digest firing at `fire` covers: the whole local days before the fire's local day."""
    return period_ending(fire.astimezone(ZoneInfo(tz)).date(), days, tz)


def latest_period(schedule: str, days: int, tz: str, now: datetime) -> tuple[datetime, Period]:
    """The schedule's last fire at or before `now`, and the period that fire reports on."""
    fire = previous_fire(schedule, now, tz)
    return fire, period_for_fire(fire, days, tz)
