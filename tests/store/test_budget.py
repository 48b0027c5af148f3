"""Per-channel budgets: a storm of 500 alerts to a Teams channel with a budget of 4 a minute gives
at most the budget plus summaries, every alert counted in them, while pages all go out."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from tests.conftest import Clock, load_fixture

T0 = datetime(2026, 11, 23, 12, 0, 5, tzinfo=timezone.utc).timestamp()
CONFIG = """
channels:
  teams: {type: teams, url: "http://127.0.0.1:9/teams", budget_per_minute: 4}
  pager: {type: pagerduty, routing_key: k, url: "http://127.0.0.1:9/pd", budget_per_minute: 2}
roles:
  se: {channels: [teams]}
  on-call: {channels: [pager]}
routes:
  - {name: pages, match: {severity: critical}, roles: [on-call, se]}
  - {name: rest, match: {}, roles: [se]}
"""


def storm(n: int, severity: str, offset: int = 0):
    out = []
    for i in range(offset, offset + n):
        p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
        p["data"]["essentials"].update(alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{i}",
                                       severity=severity, alertRule=f"rule-{i % 3}")
        out.extend(parse_payload(p).events)
    return out


def test_storm_is_folded_into_summaries_and_pages_all_go_out(store, tmp_path, request):
    n = 60 if "azure" in request.node.name else 500  # Azurite takes ~40 ms an event
    clock = Clock(T0)
    app = App(loads(CONFIG, str(tmp_path / "r.yaml"), env={}), tmp_path / "data", store=store, clock=clock)
    app.ingest(storm(n, "Sev3") + storm(10, "Sev0", offset=n))
    everything = app.store.list(limit=10_000)
    teams = [x for x in everything if x.channel == "teams"]
    pager = [x for x in everything if x.channel == "pager"]
    assert len([x for x in teams if x.status == "pending"]) == 4
    held = [x for x in teams if x.status == "held"]
    assert len(held) == n + 10 - 4
    assert {x.last_detail for x in held} == {"folded into the summary for teams (over its budget this minute)"}
    assert len(pager) == 10 and {x.status for x in pager} == {"pending"}   # pages: never folded
    clock.t += 60
    app.tick()
    [summary] = [x for x in app.store.list("pending", limit=10_000) if x.event_id.startswith("fold|")]
    event = app.store.get_event(summary.event_id)
    counts = [int(part.split(" × ")[0]) for part in event.title.split(": ", 1)[1].split(", ")]
    assert sum(counts) == n + 10 - 4 and event.labels["folded"] == str(n + 10 - 4)  # every alert counted
    assert event.severity.value == "critical"
    clock.t += 60
    app.tick()                                    # one summary per minute, not again
    assert len([x for x in app.store.list("pending", limit=10_000) if x.event_id.startswith("fold|")]) == 1
    app.ingest(storm(3, "Sev3", offset=10_000))   # a new minute: budget again
    assert len([x for x in app.store.list("pending", limit=10_000) if x.channel == "teams"
                and not x.event_id.startswith("fold|")]) == 7
