"""The issue's test: each suggestion for the seeded month, applied to the config and replayed with
`alertrouter.replay.replay`, reduces what it says it reduces; its snippet is what was applied and
is valid against the schema. A mute only makes notices wait (replay counts a waiting notice as
sent), so it is checked by recording the month again under it through the real App."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from alertrouter.config.syntax import read_yaml
from alertrouter.noise.suggest import apply
from alertrouter.noise.verify import applied, try_suggestion
from alertrouter.store.sqlite import SqliteStore
from tests.replay.configs import BASE, config
from tests.replay.conftest import record
from tests.replay.month import END, START


def _one(report, kind: str, rule: str, role: str = ""):
    [s] = [s for s in report.suggestions if s.kind == kind and s.rule == rule and s.claim.role.startswith(role)]
    return s


def _pasted(snippet: str, key: str):
    """The entries under `key` in a snippet, as plain data."""
    return [dict(x) for x in read_yaml(snippet, "snippet")[key]]


def test_the_top_offenders_get_suggestions(noise_report):
    kinds = {(s.kind, s.rule) for s in noise_report.suggestions}
    assert {("group_wait", "disk-latency"), ("inhibit", "cpu-high"), ("mute", "nightly-retrain")} <= kinds
    # the storms' rules resolve slowly (most alerts): no group_wait for them
    assert ("group_wait", "cpu-high") not in kinds and ("group_wait", "endpoint-5xx") not in kinds


@pytest.mark.parametrize("kind, rule", [("group_wait", "disk-latency"), ("inhibit", "cpu-high")])
def test_each_suggestion_replayed_reduces_what_it_says(noise_report, recorded_sqlite, kind, rule):
    s = _one(noise_report, kind, rule)
    assert s.claim.what == "notifications" and s.claim.count > 0
    measured, report = try_suggestion(config(), BASE, s, recorded_sqlite, START, END)
    assert measured >= s.claim.count, (s.claim.text(), measured)
    # and nothing else grows: no role gets more notices, nobody gets more pages
    for role in {r for r, _, _ in report.recorded.per_role_channel_day}:
        side = lambda f: sum(n for (r, _, _), n in f.per_role_channel_day.items() if r == role)  # noqa: E731
        assert side(report.replayed) <= side(report.recorded), role
    assert sum(report.replayed.pages.values()) <= sum(report.recorded.pages.values())


def test_the_group_wait_snippet_is_the_change(noise_report):
    s = _one(noise_report, "group_wait", "disk-latency")
    [route] = _pasted(s.snippet, "routes")
    assert route["name"] == "platform-alerts" and route["group_wait"] == "3m"  # its alerts last 2 minutes
    new = applied(config(), BASE, s)
    assert [r.group_wait for r in new.config.routes if r.name == "platform-alerts"] == [180.0]
    assert {r.name: r for r in new.config.routes}["platform-alerts"].model_dump() == {
        **{r.name: r for r in config().config.routes}["platform-alerts"].model_dump(), "group_wait": 180.0}


def test_the_inhibit_snippet_is_the_change(noise_report):
    s = _one(noise_report, "inhibit", "cpu-high")
    [rule] = _pasted(s.snippet, "inhibit_rules")
    assert rule == {"name": "endpoint-5xx-holds-cpu-high", "source": {"alert_rule": "endpoint-5xx"},
                    "target": {"alert_rule": "cpu-high"}, "equal": ["subscription", "resource_group"]}
    new = applied(config(), BASE, s)
    assert new.config.inhibit_rules[-1].model_dump() == rule
    assert new.config.inhibit_rules[:-1] == config().config.inhibit_rules
    assert "sev0-holds-lesser-alerts-on-the-resource" in apply(BASE, s)  # the rest of the file is kept


def test_the_mute_makes_the_nightly_notices_wait(noise_report, the_month, recorded_sqlite, tmp_path):
    s = _one(noise_report, "mute", "nightly-retrain", "quality-assurance")
    assert (s.claim.role, s.claim.what) == ("quality-assurance", "notifications during 02:00-03:00 UTC")
    new = applied(config(), BASE, s)
    assert new.config.time_windows["nightly-retrain-02h"].ranges[0].model_dump() == {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "02:00", "end": "03:00"}
    store = SqliteStore(tmp_path / "muted.db")
    try:
        record(store, the_month, tmp_path, new)

        def in_the_hour(st):
            out = []
            for n in st.made_between(START.timestamp(), END.timestamp()):
                at = datetime.fromtimestamp(n.created_at, timezone.utc)
                event = st.get_event(n.event_id)
                if n.role == "quality-assurance" and n.status != "held" and at.hour == 2 and \
                        event.labels.get("experiment") == "nightly-retrain":
                    out.append((n, at))
            return out

        before, after = in_the_hour(recorded_sqlite), in_the_hour(store)
        assert len(before) == s.claim.count
        assert len(after) == len(before)  # still made, and still going out…
        for n, at in after:  # …but at 03:00, when the hour is over
            assert n.route == "experiment-lifecycle-nightly-retrain"
            assert n.next_attempt_at == at.replace(hour=3, minute=0, second=0, microsecond=0).timestamp()
        # the other experiments' notices to QA are as they were
        other = [n for n in store.made_between(START.timestamp(), END.timestamp())
                 if n.role == "quality-assurance" and n.route == "experiment-lifecycle"]
        assert other and all(n.next_attempt_at <= n.created_at + 1 for n in other if n.status != "held")
    finally:
        store.close()



def test_verifying_reads_the_period_once_and_replays_only_what_replay_can_measure(noise_report, recorded_sqlite):
    """Each measurable suggestion is replayed over the same period, read once; a mute (replay
    counts a waiting notice as sent) is left unmeasured without a replay; the figures are the ones
    a replay of each suggestion on its own gives."""
    import copy

    from alertrouter.noise.verify import verify
    from alertrouter.store.sqlite import SqliteStore

    class Counting(SqliteStore):  # the real store, counting the period reads
        reads = 0

        def events_between(self, start, end, kinds=None):
            if kinds is None:
                Counting.reads += 1
            return super().events_between(start, end, kinds)

    store = Counting(recorded_sqlite.path)
    suggestions = copy.deepcopy(noise_report.suggestions)
    assert {s.kind for s in suggestions} >= {"mute", "group_wait", "inhibit"}
    said: list[str] = []
    verify(config(), BASE, suggestions, store, START, END, said.append)
    measurable = [s for s in suggestions if s.kind != "mute"]
    assert Counting.reads == 1
    assert [s.measured for s in suggestions if s.kind == "mute"] == [None] * (len(suggestions) - len(measurable))
    assert len(said) == len(measurable) and said[0].startswith(f"replaying suggestion 1 of {len(measurable)} (")
    for s in measurable:
        alone, _ = try_suggestion(config(), BASE, s, recorded_sqlite, START, END)
        assert s.measured == alone, s.kind
    store.close()
