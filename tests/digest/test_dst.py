"""Periods are whole local days in the digest's zone, across daylight-saving changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from alertrouter.digest import collect, latest_period, period_ending
from alertrouter.inbound import parse_payload
from alertrouter.store.sqlite import SqliteStore

from .conftest import Run, run_payload

UTC = timezone.utc


def test_the_week_of_the_last_sunday_of_october_in_berlin():
    fire, p = latest_period("0 0 8 * * Mon", 7, "Europe/Berlin", datetime(2026, 10, 26, 7, 30, tzinfo=UTC))
    assert fire == datetime(2026, 10, 26, 7, 0, tzinfo=UTC)  # 08:00 CET
    assert p.start == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)  # Mon 19 Oct 00:00 CEST
    assert p.end == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)  # Mon 26 Oct 00:00 CET
    assert p.hours == 169
    assert p.days == [date(2026, 10, 19) + timedelta(days=i) for i in range(7)]
    assert p.key == "2026-10-19T00:00:00+02:00"
    assert p.previous().hours == 168 and p.previous().end == p.start


def test_the_spring_week_is_167_hours_and_other_zones():
    p = period_ending(date(2027, 3, 29), 7, "Europe/Berlin")
    assert p.hours == 167
    ny = period_ending(date(2026, 11, 2), 7, "America/New_York")  # DST ends 1 Nov in the US
    assert ny.start == datetime(2026, 10, 26, 4, 0, tzinfo=UTC) and ny.end == datetime(2026, 11, 2, 5, 0, tzinfo=UTC)
    daily = period_ending(date(2026, 10, 26), 1, "Europe/Berlin")
    assert daily.hours == 25 and daily.days == [date(2026, 10, 25)]


@pytest.mark.parametrize("utc,day", [
    ("2026-10-18T21:59:59", None),          # Sun 18 Oct 23:59:59 CEST: the week before
    ("2026-10-18T22:00:00", "2026-10-19"),  # Mon 19 Oct 00:00 CEST (still the 18th in UTC)
    ("2026-10-25T00:30:00", "2026-10-25"),  # Sun 25 Oct 02:30 CEST
    ("2026-10-25T01:30:00", "2026-10-25"),  # Sun 25 Oct 02:30 CET: the repeated hour
    ("2026-10-25T22:59:59", "2026-10-25"),  # Sun 25 Oct 23:59:59 CET (the 25th in UTC, 26th an hour later)
    ("2026-10-25T23:00:00", None),          # Mon 26 Oct 00:00 CET: the next week
])
def test_events_land_on_their_local_day(tmp_path, utc, day):
    import random

    store = SqliteStore(tmp_path / "a.db")
    end = datetime.fromisoformat(utc).replace(tzinfo=UTC)
    run = Run("r1", "churn-model", "failed", None, end)
    [event] = parse_payload(run_payload(run, "Failed", end, random.Random(1))).events
    store.ingest([(event, [])], end.timestamp())
    data = collect(store, "d", period_ending(date(2026, 10, 26), 7, "Europe/Berlin"))
    per_day = {d.isoformat(): v["failed"] for d, v in data.current.runs_per_day.items() if v["failed"]}
    assert per_day == ({day: 1} if day else {})
    assert data.current.runs["failed"] == (1 if day else 0)
    assert data.previous.runs["failed"] == (1 if utc == "2026-10-18T21:59:59" else 0)
    store.close()


def test_offsets_other_than_utc_compare_as_instants(tmp_path):
    """An event whose time carries a +05:30 offset is found by its instant, not by its text."""
    from alertrouter.model import Event

    store = SqliteStore(tmp_path / "a.db")
    t = datetime(2026, 10, 19, 3, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))  # 18 Oct 21:30Z: before
    u = datetime(2026, 10, 19, 4, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))  # 18 Oct 22:30Z: inside
    for i, when in enumerate((t, u)):
        store.ingest([(Event(id=f"e{i}", source="aml", kind="run.failed", severity="error", title="x", time=when,
                             fingerprint=f"run:{i}", labels={"experiment": "x"}), [])], 0)
    data = collect(store, "d", period_ending(date(2026, 10, 26), 7, "Europe/Berlin"))
    assert data.current.runs["failed"] == 1 and data.previous.runs["failed"] == 1
    store.close()
