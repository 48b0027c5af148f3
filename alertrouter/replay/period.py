"""The period a replay covers: `--since 7d`, or `--from DATE --to DATE`, as two aware UTC datetimes.
Bad input raises PeriodError saying which option, what was given and how to write it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ..config.schema import parse_duration
from ..errors import RouterError

DEFAULT_SINCE = "7d"


class PeriodError(RouterError):
    pass


def parse_date(option: str, value: str) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is read as UTC."""
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise PeriodError(f"{option} {value!r} is not a date; write it like 2026-11-30 or "
                          "2026-11-30T08:00:00+01:00 (without an offset it is UTC)") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def period(now: float, since: str | None = None, from_: str | None = None,
           to: str | None = None) -> tuple[datetime, datetime]:
    """[start, end) from the options: `since` back from now, or `from_` to `to` (to defaults to now)."""
    end_now = datetime.fromtimestamp(now, timezone.utc)
    if since is not None and (from_ is not None or to is not None):
        raise PeriodError("give either --since or --from/--to, not both")
    if from_ is None:
        if to is not None:
            raise PeriodError("--to needs --from (the start of the period)")
        try:
            seconds = parse_duration(since or DEFAULT_SINCE)
        except ValueError as exc:
            raise PeriodError(f"--since: {exc}") from None
        if seconds <= 0:
            raise PeriodError(f"--since {since!r}: the period must be longer than zero")
        return end_now - timedelta(seconds=seconds), end_now
    start = parse_date("--from", from_)
    end = parse_date("--to", to) if to is not None else end_now
    if end <= start:
        raise PeriodError(f"--to {end.isoformat()} is not after --from {start.isoformat()}: the period is empty")
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def recent_start(store, start: datetime, end: datetime, most: int) -> datetime | None:
    """When the `most`-th most recent source event of [start, end) happened, if the period holds
    more than `most` of them (else None): where a page that reads a period in one request starts
    instead. The period is read back from its end: an hour first, then, at the rate that hour (and
    each window after it) showed, as far as the rest should need with half as much again to spare
    (eight times further when nothing was found yet). A busy period is not read whole (and held in
    memory) to find its last few thousand events, and a quiet one takes two reads: on a store whose
    every period read is a scan (Azure's), doubling windows took up to ten."""
    from ..digest.sources import is_source

    windows: list[list] = []  # the source events of each window read, the most recent window first
    found, hi, width = 0, end, timedelta(hours=1)
    while hi > start and found <= most:
        lo = max(start, hi - width)
        windows.append([e for e in store.events_between(lo, hi) if is_source(e)])
        found += len(windows[-1])
        hi = lo
        width = (end - lo) * ((most + 1 - found) / found * 1.5) if found else width * 8
    if found <= most:
        return None
    recent = [e for window in reversed(windows) for e in window]  # oldest first
    return recent[-most].time
