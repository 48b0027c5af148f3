"""Known config changes, replayed over the recorded month, produce the differences they should: each
expected set of changed events is worked out from the month's own plan, not from the replay."""

from __future__ import annotations

from collections import Counter

from alertrouter.replay import replay
from tests.replay.configs import config
from tests.replay.month import END, START

RUN_ENDS = ("run.completed", "run.failed", "run.canceled")


def _texts(report) -> dict[str, list[str]]:
    return {c.event.id: [ch.text for ch in c.changes] for c in report.changed}


def test_dropping_qa_from_a_route(recorded_sqlite, the_month):
    report = replay(config("drop-qa"), recorded_sqlite, START, END)
    runs = [e for e in the_month.events if e.kind.startswith("run.")]
    assert set(_texts(report)) == {e.id for e in runs}
    for c in report.changed:
        [change] = c.changes
        assert (change.role, change.channels, change.route, change.stage) == (
            "quality-assurance", ["qa-teams"], "experiment-lifecycle", "routing")
        # the run's second end notice was held for QA; every other run notice reached QA
        assert change.text in ("no longer reaches quality-assurance",
                               "no longer routed to quality-assurance (was held by lifecycle)")
    assert not [k for k in report.replayed.per_role_channel_day if k[0] == "quality-assurance"]
    assert sum(n for k, n in report.recorded.per_role_channel_day.items() if k[0] == "quality-assurance") == \
        sum(1 for c in report.changed if c.changes[0].text == "no longer reaches quality-assurance")


def test_adding_an_inhibit_rule(recorded_sqlite, the_month):
    report = replay(config("inhibit-cpu-under-5xx"), recorded_sqlite, START, END)
    # from the plan: cpu-high notices that come while an endpoint-5xx alert fires, and that no
    # silence held already (the mid-storm silence holds before inhibition does)
    firing: dict[str, list] = {}
    for e in the_month.events:
        if e.labels.get("alert_rule") == "endpoint-5xx":
            firing.setdefault(e.fingerprint, [None, None])[0 if e.kind == "alert.fired" else 1] = e.time
    silence = the_month.silences[0]

    def inhibited(e) -> bool:
        t = e.time.timestamp()
        if silence.at <= t < silence.at + silence.hours * 3600:
            return False
        return any(fired is not None and fired < e.time and (resolved is None or resolved > e.time)
                   for fired, resolved in firing.values())

    expected = {e.id for e in the_month.events if e.labels.get("alert_rule") == "cpu-high" and inhibited(e)}
    assert expected
    assert set(_texts(report)) == expected
    for c in report.changed:
        [change] = c.changes
        assert change.stage == "inhibit" and change.route == "platform-alerts"
        assert change.text.startswith("now held by inhibition: inhibited by")
        assert change.text.endswith("(was held by group)")
    assert report.replayed.held["inhibit"] - report.recorded.held["inhibit"] == len(expected)


def test_raising_group_wait(recorded_sqlite, the_month):
    report = replay(config("long-group-wait"), recorded_sqlite, START, END)
    # every alert is still grouped: no event's own outcome changes, only the group notices
    assert report.changed == []
    assert report.replayed.held == report.recorded.held
    # the flapping disk fires and resolves within the hour: those groups notify nobody now
    before, after = report.recorded.router_notices["group notice"], report.replayed.router_notices["group notice"]
    assert after < before
    se = lambda f: sum(n for k, n in f.per_role_channel_day.items() if k[:2] == ("software-engineer", "se-teams"))  # noqa: E731
    assert se(report.recorded) - se(report.replayed) == before - after


def test_making_a_route_page(recorded_sqlite, the_month):
    report = replay(config("failures-page"), recorded_sqlite, START, END)
    ends = [e for e in the_month.events if e.kind in RUN_ENDS]
    assert set(_texts(report)) == {e.id for e in ends}
    said = Counter()
    for c in report.changed:
        [change] = c.changes
        assert (change.role, change.channels, change.route) == ("on-call", ["pager"], "run-results")
        said[(c.event.kind, change.text)] += 1
    failed = sum(1 for e in ends if e.kind == "run.failed")
    fingerprints = Counter(e.fingerprint for e in ends)
    doubled = sum(n - 1 for n in fingerprints.values())
    assert said == Counter({("run.failed", "now pages on-call"): failed,
                            ("run.completed", "now reaches on-call"): len(ends) - failed - doubled,
                            ("run.completed", "now held as a run's second end notice"): doubled})
    pages = report.replayed.pages[("on-call", "pager")] - report.recorded.pages[("on-call", "pager")]
    assert pages == failed
