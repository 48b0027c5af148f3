"""Each finding of the noise report on the seeded month, against what the month's plan says
(worked out here from the month's events, not from the report)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import pytest

from alertrouter.noise import build, options_for
from alertrouter.replay import replay
from tests.replay.configs import BASE, config
from tests.replay.month import END, START


def _alerts(month, rule: str) -> list[tuple[datetime, datetime | None, str]]:
    """(fired, resolved, resource) of each alert of `rule` in the plan."""
    out: dict[str, list] = {}
    for e in month.events:
        if e.labels.get("alert_rule") == rule:
            a = out.setdefault(e.fingerprint, [None, None, e.labels.get("resource", "")])
            a[0 if e.kind == "alert.fired" else 1] = e.time
    return sorted((tuple(a) for a in out.values()), key=lambda a: (a[0], a[2]))


def _flaps(month, rule: str, within: float) -> list[datetime]:
    alerts = _alerts(month, rule)
    return [nxt[0] for prev, nxt in zip(alerts, alerts[1:])
            if prev[1] is not None and 0 <= (nxt[0] - prev[1]).total_seconds() <= within]


@pytest.mark.parametrize("within, flaps", [(1800.0, 81), (600.0, 81), (120.0, 0)])
def test_the_flapping_disk_is_found_with_its_count(recorded_sqlite, the_month, within, flaps):
    report = build(config(), recorded_sqlite, START, END, options_for(config(), flap_within=within), text=BASE)
    expected = _flaps(the_month, "disk-latency", within)
    assert len(expected) == flaps  # the plan: 10 flaps a day, 3 to 7 minutes apart, on 9 days
    if not flaps:
        assert report.flapping == []
        return
    [f] = report.flapping  # the storms' alerts all fire before any resolves: they do not flap
    assert (f.rule, f.resource, f.flaps, f.days) == ("disk-latency", "vm-data-1", flaps,
                                                     len({t.date() for t in expected}))


def test_the_storm_rule_notifies_most(noise_report, the_month):
    top = noise_report.top[0]
    assert top.rule == "endpoint-5xx"
    # every endpoint-5xx alert, fired and resolved, pages on-call (Sev1 to PagerDuty, never folded)
    pages = sum(1 for e in the_month.events if e.labels.get("alert_rule") == "endpoint-5xx")
    assert top.pages == pages == top.by_target[("on-call", "pager")]
    assert top.routes == Counter({"production-pages": top.notices})
    assert [r.notices for r in noise_report.top] == sorted((r.notices for r in noise_report.top), reverse=True)


def test_alerts_resolved_before_anyone_could_act(noise_report, the_month):
    quick = {q.rule: q for q in noise_report.quick}
    for rule in ("disk-latency", "endpoint-5xx", "cpu-high"):
        alerts = _alerts(the_month, rule)
        short = [a for a in alerts if a[1] is not None and (a[1] - a[0]).total_seconds() <= 300]
        assert (quick[rule].alerts, quick[rule].fired) == (len(short), len(alerts)), rule
    assert quick["disk-latency"].alerts == 90 and quick["disk-latency"].longest == 120
    assert quick["disk-latency"].notices > 0 and quick["endpoint-5xx"].pages > 0


@pytest.mark.parametrize("night", [(22, 7), (12, 20)])
def test_pages_per_night(recorded_sqlite, night):
    options = options_for(config(), night_start=night[0], night_end=night[1])
    report = build(config(), recorded_sqlite, START, END, options, text=BASE)
    # from the store's own rows: on-call's pager notices that were not held, at night (UTC here)
    expected: Counter = Counter()
    for n in recorded_sqlite.made_between(START.timestamp(), END.timestamp() + 86400):
        if n.role == "on-call" and n.status != "held":
            at = datetime.fromtimestamp(n.created_at, timezone.utc)
            lo, hi = night
            if lo > hi and at.hour >= lo:
                expected[at.date()] += 1
            elif lo > hi and at.hour < hi:
                expected[at.date() - timedelta(days=1)] += 1  # the night began the evening before
            elif lo < hi and lo <= at.hour < hi:
                expected[at.date()] += 1
    assert report.nights.per_night == dict(expected)
    assert report.nights.hours == f"{night[0]:02d}:00-{night[1]:02d}:00 UTC"
    assert "UTC (the config names no time zone)" == report.nights.zone_from
    if night == (12, 20):
        assert sum(expected.values()) > 0  # the storms come in the day: these hours hold pages


def test_the_share_held_by_each_stage_is_replays_count(noise_report, recorded_sqlite):
    figures = replay(config(), recorded_sqlite, START, END).recorded
    held = {s: v["notices"] for s, v in noise_report.held.items() if s != "reached"}
    assert held == {**{s: 0 for s in held}, **dict(figures.held)}
    reached = sum(figures.per_role_channel_day.values())
    assert noise_report.held["reached"]["notices"] == reached
    assert sum(v["share"] for v in noise_report.held.values()) == pytest.approx(1.0)


def test_the_pair_that_fires_together(noise_report, the_month):
    # the plan: each of the 5 storms starts with endpoint-5xx, cpu-high a minute later
    [pair] = noise_report.pairs
    assert (pair.source, pair.target, pair.times) == ("endpoint-5xx", "cpu-high", 5)
    assert pair.equal == ["subscription", "resource_group"]  # different resources: not `resource`
    assert set(pair.roles) == {"software-engineer"}


def test_the_nightly_retrain_recurs_at_the_same_hour(noise_report, the_month):
    starts = defaultdict(set)
    for e in the_month.events:
        if e.kind == "run.started" and e.labels.get("experiment") == "nightly-retrain":
            starts[e.time.hour].add(e.time.date())
    found = {(r.rule, r.role): r for r in noise_report.recurring}
    qa = found[("nightly-retrain", "quality-assurance")]
    assert (qa.hour, qa.days, qa.route) == (2, len(starts[2]), "experiment-lifecycle")
    assert all(r.rule == "nightly-retrain" for r in noise_report.recurring)  # storms and flaps come at any hour
