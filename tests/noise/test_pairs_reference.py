"""`patterns.pairs` looks each firing up by binary search; it must find exactly the pairs the
plain definition finds (every burst of one rule against every firing of the other, every notice
against every span), on generated periods with firings on the window's very edges."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from alertrouter.model import Event
from alertrouter.noise.findings import Options
from alertrouter.noise.patterns import SHARED, Pair, _bursts, firing_spans, pairs
from alertrouter.noise.reading import Notice, Record
from alertrouter.replay.outcomes import Outcome

T0 = datetime(2026, 11, 2, tzinfo=timezone.utc)
OPTIONS = Options(together_within=300.0, together_min=2)


def reference(record: Record, o: Options) -> list[Pair]:
    """The definition, read plainly (the code before the binary search)."""
    alerts = record.alerts()
    firings: dict[str, list[Event]] = defaultdict(list)
    for e in alerts:
        if e.kind == "alert.fired":
            firings[e.labels.get("alert_rule", e.title)].append(e)
    bursts = {rule: _bursts(fs, o.together_within) for rule, fs in firings.items()}
    spans = firing_spans(alerts, record.end)
    out = []
    for a, a_bursts in bursts.items():
        for b, b_firings in firings.items():
            if a == b:
                continue
            together = []
            for burst in a_bursts:
                t0 = burst[0].time
                after = [e for e in b_firings if 0 <= (e.time - t0).total_seconds() <= o.together_within]
                before = [e for e in b_firings if 0 < (t0 - e.time).total_seconds() <= o.together_within]
                if after and not before:
                    together.append((burst[0], after[0]))
            if len(together) < o.together_min:
                continue
            equal = [k for k in SHARED if all(x.labels.get(k) and x.labels.get(k) == y.labels.get(k)
                                              for x, y in together)]
            held = [n for n in record.notices if n.rule == b and n.reaches and
                    any(f <= n.at <= r for f, r in spans.get(a, ()))]
            if held:
                roles: dict[str, int] = defaultdict(int)
                for n in held:
                    roles[n.outcome.role] += 1
                out.append(Pair(a, b, len(together), equal, len(held), dict(roles)))
    return sorted(out, key=lambda p: (-p.notices, -p.times, p.source, p.target))


# (rule, fired?, second of the period, which alert, which resource, the notice's role or None)
steps = st.lists(st.tuples(st.sampled_from(["cpu", "disk", "http"]), st.booleans() | st.just(True),
                           st.sampled_from([0, 1, 60, 299, 300, 301, 600, 601, 900, 1200, 1500]) | st.integers(0, 3600),
                           st.integers(0, 3), st.sampled_from(["vm-1", "vm-2"]),
                           st.sampled_from([None, "on-call", "se", "se"])), min_size=6, max_size=60)


def period_of(generated) -> Record:
    sources, notices = [], []
    for i, (rule, fired, second, alert, resource, role) in enumerate(sorted(generated, key=lambda g: g[2])):
        e = Event(id=f"e{i}", source="azure-monitor", kind="alert.fired" if fired else "alert.resolved",
                  severity="error", title=rule, time=T0 + timedelta(seconds=second),
                  fingerprint=f"{rule}/{alert}", labels={"alert_rule": rule, "resource": resource})
        sources.append(e)
        if role is not None:
            outcome = Outcome("r", role, "teams", "" if fired else "group", "", "2026-11-02", False)
            notices.append(Notice(e, outcome, rule, e.time.timestamp() + (second % 3), ""))
    return Record(T0, T0 + timedelta(hours=2), sources, notices)


@settings(max_examples=300, deadline=None)
@given(steps)
def test_pairs_are_the_plain_definitions_pairs(generated):
    record = period_of(generated)
    assert pairs(record, OPTIONS) == reference(record, OPTIONS)
