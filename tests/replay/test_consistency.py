"""Replaying the seeded month under the config that was in force reproduces the record exactly, on
both stores (on Azurite, the month's hard days: see month.hard_days): no event changed, every figure
equal, and the month exercised every stage (so equal means something). The real store is only read."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alertrouter.pipeline import silences
from alertrouter.replay import replay
from alertrouter.replay.engine import copy_silences
from alertrouter.store.sqlite import SqliteStore
from tests.replay.configs import config
from tests.replay.conftest import record
from tests.replay.month import END, START, hard_days


@pytest.mark.timeout(600)  # Azurite answers each of the ~20 requests an event costs in 10-20 ms
def test_replay_under_the_config_in_force_reproduces_the_record(request, store, the_month, tmp_path):
    if request.node.callspec.params["store"] == "azure_store":
        the_month = hard_days(the_month)  # the whole month takes Azurite minutes
    record(store, the_month, tmp_path)
    before = (store.counts(), sorted(k for k, _, _ in store.state_list(silences.KIND)))

    report = replay(config(), store, START, END)

    assert report.events == len(the_month.events)
    assert [c.as_dict() for c in report.changed] == []
    assert report.replayed.as_dict() == report.recorded.as_dict()
    assert report.unknowable == []
    # the month exercised what it is meant to: every stage held something, pages went out, and the
    # router made group notices, budget summaries and escalations on its periodic pass
    assert set(report.recorded.held) == {"lifecycle", "silence", "inhibit", "group", "budget"}
    assert report.recorded.pages[("on-call", "pager")] > 0
    assert {"group notice", "budget summary", "escalation"} <= set(report.recorded.router_notices)
    # the silence made mid-storm held only what came after it: the storm's first alerts were grouped
    mid_storm = the_month.silences[0].at
    storm = [e for e in the_month.events if e.labels.get("alert_rule") == "cpu-high"
             and abs(e.time.timestamp() - mid_storm) < 3600]
    assert any(e.time.timestamp() < mid_storm for e in storm) and any(e.time.timestamp() >= mid_storm for e in storm)
    for e in storm:
        [n] = store.notifications_for(e.id)
        assert n.last_detail.startswith("silenced by" if e.time.timestamp() >= mid_storm else "grouped into"), e.id
    # nothing was written to the real store
    assert (store.counts(), sorted(k for k, _, _ in store.state_list(silences.KIND))) == before


def test_silences_are_copied_as_they_stood_over_time(sqlite_store):
    t = START.timestamp()
    backdated = silences.create(sqlite_store, matchers={"resource": "vm-1"}, starts_at=t - 3600, ends_at=t + 7200,
                                created_by="ana", comment="backdated", now=t)
    silences.expire(sqlite_store, backdated.id, t + 600)
    later = silences.create(sqlite_store, matchers={"resource": "vm-2"}, starts_at=t + 60, ends_at=t + 120,
                            created_by="ben", comment="short", now=t + 30)
    scratch = SqliteStore(":memory:")
    try:
        assert copy_silences(sqlite_store, scratch, t - 86400) == 2
        copied = {s.id: s for s in silences.all_silences(scratch)}
        # made at t (not its backdated start), held until it was expired by hand, not until its end
        assert (copied[backdated.id].starts_at, copied[backdated.id].ends_at) == (t, t + 600)
        assert copied[backdated.id].expired_at is None
        assert (copied[later.id].starts_at, copied[later.id].ends_at) == (t + 60, t + 120)
        # so at event time, the replay's silences say what they said then
        current = silences.Current(scratch)
        assert [s.id for s in current.active(t - 1)] == []
        assert [s.id for s in current.active(t + 300)] == [backdated.id]
        assert [s.id for s in current.active(t + 700)] == []
    finally:
        scratch.close()


def test_a_period_starting_mid_storm_names_the_alerts_it_cannot_judge(recorded_sqlite, the_month):
    storm = next(e for e in the_month.events if e.labels.get("alert_rule") == "endpoint-5xx")
    start = storm.time + timedelta(minutes=4)
    end = start + timedelta(days=1)
    report = replay(config(), recorded_sqlite, start, end)
    fired_before = {e.fingerprint for e in the_month.events if e.kind == "alert.fired" and e.time < start}
    expected = {e.id for e in the_month.events if e.kind == "alert.resolved" and start <= e.time < end
                and e.fingerprint in fired_before}
    assert expected
    assert {e.id for e, _ in report.unknowable} == expected
    assert all("fired before the period began" in why for _, why in report.unknowable)


def test_an_event_from_before_the_period_taken_in_late_is_not_counted(sqlite_store, the_month, tmp_path):
    from alertrouter.app import App
    from alertrouter.replay.engine import Clock

    late = next(e for e in the_month.events if e.kind == "run.failed")
    start = late.time + timedelta(minutes=5)
    clock = Clock(start.timestamp() + 60)  # it reached the router a few minutes after it happened
    App(config(), tmp_path, store=sqlite_store, clock=clock).ingest([late])
    assert sqlite_store.made_between(start.timestamp(), start.timestamp() + 3600)  # made within the period

    report = replay(config(), sqlite_store, start, start + timedelta(hours=1))
    assert report.events == 0
    assert report.recorded.as_dict() == report.replayed.as_dict() == {
        "notifications": [], "pages": [], "held": {}, "router_notices": {}}
