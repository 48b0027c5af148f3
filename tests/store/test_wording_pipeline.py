"""The pipeline's own sentences (issue 20, item 12), from real fixtures through the App on a real
store: an escalation under a minute says seconds, a budget summary of one notice is singular, a
group of one resolved alert is not "All 1 resolved"; and the rendered Teams text follows."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from alertrouter.config.types import Target
from tests.conftest import Clock, load_fixture

T0 = datetime(2026, 11, 23, 12, 0, 5, tzinfo=timezone.utc).timestamp()
CONFIG = """
channels:
  teams: {type: teams, url: "http://127.0.0.1:9/teams", budget_per_minute: 1}
  pager: {type: webhook, url: "http://127.0.0.1:9/pager"}
  lead: {type: webhook, url: "http://127.0.0.1:9/lead"}
roles:
  on-call: {channels: [pager]}
  lead: {channels: [lead]}
  se: {channels: [teams]}
routes:
  - name: pages
    match: {severity: critical}
    roles: [on-call]
    escalate: {after: 45s, to: [lead]}
  - name: storm
    match: {alert_rule: storm-rule}
    roles: [lead]
    group_by: [alert_rule]
    group_wait: 30s
  - {name: rest, match: {}, roles: [se]}
"""


def alert(i: int, *, rule: str = "cpu", severity: str = "Sev3", resolved: bool = False):
    p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    e = p["data"]["essentials"]
    e.update(alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{rule}-{i}", severity=severity,
             alertRule=rule, configurationItems=["vm-1"])
    if resolved:
        e["monitorCondition"], e["resolvedDateTime"] = "Resolved", "2026-11-23T12:10:00Z"
    [event] = parse_payload(p).events
    return event


def app_on(store, tmp_path) -> App:
    return App(loads(CONFIG, str(tmp_path / "r.yaml"), env={}), tmp_path / "data", store=store, clock=Clock(T0),
               ack_secret=b"k" * 32, public_url="http://127.0.0.1:7071")


def pending(app, prefix: str):
    return sorted((n for n in app.store.list("pending", limit=1000) if n.event_id.startswith(prefix)),
                  key=lambda n: (n.created_at, n.id))


def test_an_escalation_under_a_minute_says_seconds(store, tmp_path):
    app = app_on(store, tmp_path)
    app.ingest([alert(1, severity="Sev0")])
    app.clock.t += 60
    app.tick()
    [esc] = pending(app, "escalated|")
    event = app.store.get_event(esc.event_id)
    assert event.title == "Not acknowledged after 45 s: Fired: cpu on vm-1"


def test_a_budget_summary_of_one_notice_is_singular(store, tmp_path):
    app = app_on(store, tmp_path)
    app.ingest([alert(1), alert(2)])             # a budget of 1 a minute: the second is folded
    app.clock.t += 60
    app.tick()
    [fold] = pending(app, "fold|")
    event = app.store.get_event(fold.event_id)
    assert event.title == "1 more notice for teams: 1 × cpu"
    assert event.summary.startswith(f"{event.title}. It went over the channel's budget in one minute; it is in")
    msg = app.render(event, Target(fold.route, fold.role, fold.channel, ""), app.channels["teams"])
    assert "1 more notice for teams" in msg.parts["title"] and "notices" not in msg.parts["title"]


def test_a_group_of_one_resolved_alert_is_not_all_1(store, tmp_path):
    app = app_on(store, tmp_path)
    app.ingest([alert(1, rule="storm-rule")])
    app.clock.t += 30
    app.tick()
    app.ingest([alert(1, rule="storm-rule", resolved=True)])
    app.clock.t += 300
    app.tick()
    titles = [app.store.get_event(n.event_id).title for n in pending(app, "group|")]
    assert titles == ["1 firing: alert_rule=storm-rule", "Resolved: alert_rule=storm-rule"]

