"""Source events and the router's own, told apart (alertrouter/digest/sources.py): every kind of event
the router makes, made by the real code, is recognised as the router's; every real payload fixture,
parsed by the real adapters, is a source event. If a producer changes how it names its events, this
fails instead of the digest quietly counting them again."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone

import pytest

from alertrouter.app import App
from alertrouter.channels.base import DeliveryResult
from alertrouter.config.load import loads
from alertrouter.delivery.health import ChannelHealth
from alertrouter.digest import collect, period_ending, render_digest
from alertrouter.digest.sources import is_source, router_made
from alertrouter.digest.storage import events_between
from alertrouter.inbound import parse_payload
from alertrouter.errors import UnsupportedSchema
from alertrouter.pipeline import escalate
from alertrouter.rendering.renderer import Renderer
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import Clock, fixture_files, load_fixture

UTC = timezone.utc
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
SUB = "0b1f6471-1bf0-4dda-aec3-111122223333"
TOPIC = (f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/"
         "workspaces/ws-prod")

CONFIG = """
channels:
  se: {type: webhook, url: "http://127.0.0.1:9/se", budget_per_minute: 1}
  pager: {type: webhook, url: "http://127.0.0.1:9/pager"}
roles:
  on-call: {channels: [pager]}
  se: {channels: [se]}
  lead: {channels: [pager]}
routes:
  - name: pages
    match: {severity: critical}
    roles: [on-call]
    escalate: {after: 15m, to: [lead]}
    continue: true
  - name: storm
    match: {alert_rule: storm-rule}
    roles: [se]
    group_by: [alert_rule]
    group_wait: 30s
  - name: rest
    match: {}
    roles: [se]
run_watch:
  stuck_after: 1h
  missing:
    - {experiment: nightly, every: 1d}
"""


def alert(i: int, rule: str, severity: str = "Sev2"):
    p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    e = p["data"]["essentials"]
    e["alertId"] = f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{rule}-{i}"
    e["alertRule"], e["severity"], e["configurationItems"] = rule, severity, [f"vm-{i}"]
    e["firedDateTime"] = T0.strftime("%Y-%m-%dT%H:%M:%SZ")
    [event] = parse_payload(p).events
    return event


def run_event(run_id: str, experiment: str, status: str, t: datetime):
    payload = [{"topic": TOPIC, "subject": f"experiments/x/runs/{run_id}",
                "eventType": "Microsoft.MachineLearningServices.RunStatusChanged",
                "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "id": f"{run_id}-{status}", "dataVersion": "",
                "metadataVersion": "1",
                "data": {"experimentId": "x", "experimentName": experiment, "runId": run_id,
                         "runType": "azureml.scriptrun", "runStatus": status, "runTags": {}, "runProperties": {}}}]
    [event] = parse_payload(payload).events
    return event


def test_every_event_the_router_makes_is_told_from_what_azure_sent(tmp_path):
    store = SqliteStore(tmp_path / "alertrouter.db")
    clock = Clock(T0.timestamp())
    app = App(loads(CONFIG, str(tmp_path / "routing.yaml"), env={}), tmp_path / "data", store=store, clock=clock,
              ack_secret=b"k" * 32, public_url="http://127.0.0.1:7071")
    sent = [alert(i, "storm-rule") for i in range(3)] + [alert(0, "disk-full", "Sev0")] + \
        [alert(i, f"rule-{i}") for i in range(3)] + [run_event("r1", "train", "Running", T0)]
    app.ingest(sent)
    clock.t += 60
    app.tick()                                           # group notice, budget summary; watch starts counting
    clock.t += 15 * 60
    app.tick()                                           # the Sev0 alert escalated
    [(key, doc, _)] = store.state_list(escalate.KIND)
    token = escalate.make_token(b"k" * 32, doc["event_id"], doc["fingerprint"], "pages", clock.t)
    app.acknowledge(token, "ana@contoso.com")            # the acknowledgement announced
    clock.t += 2 * 86400
    app.tick()                                           # r1 stuck, nightly missing, the group repeated
    clock.t += 60
    app.ingest([run_event("r1", "train", "Completed", datetime.fromtimestamp(clock.t, UTC)),
                run_event("r2", "nightly", "Running", datetime.fromtimestamp(clock.t, UTC))])  # both resolved

    everything = events_between(store, T0 - timedelta(days=1), T0 + timedelta(days=5))
    ids = {e.id for e in sent} | {"r1-Completed", "r2-Running"}
    made = {e.id: router_made(e) for e in everything if not any(e.id.endswith(i) or e.id == i for i in ids)}
    assert sorted(made.values()) == sorted(["group notice", "group notice", "router notice", "escalation", "acknowledgement",
                                            "run watch", "run watch", "run watch", "run watch"]), made
    assert {e.kind for e in everything if router_made(e) == "run watch"} == {
        "run.stuck", "run.stuck_resolved", "run.missing", "run.missing_resolved"}
    source = [e for e in everything if is_source(e)]
    assert len(source) == len(sent) + 2 and all(not e.id.startswith(("group|", "escalated|", "ack|", "fold|"))
                                               for e in source)

    # the digest of that week: what Azure sent; the run-watch findings on a line of their own
    data = collect(store, "weekly", period_ending(date(2026, 11, 30), 7, "Europe/Berlin"))
    f = data.current
    assert (f.alerts["fired"], f.top_rules[0]) == (7, {"rule": "storm-rule", "fired": 3})
    assert (f.runs["ended"], f.runs["succeeded"], f.runs["stuck"], f.runs["missing"]) == (1, 1, 1, 1)
    msg = render_digest(Renderer(strict=True), data, role="analyst", visibility="full")
    assert "Run watch: 1 run still running past their limit, 1 scheduled start missed" in msg.parts["text"]
    assert "Run watch: 1 run still running past their limit, 1 scheduled start missed" in msg.parts["html"]

    # channel health: its events are source "router"
    health = ChannelHealth(store, threshold=2, min_outage=0)
    events = [health.record("se", DeliveryResult.retry("503"), clock.t + i) for i in range(3)]
    down = next(e for e in events if e is not None)
    up = health.record("se", DeliveryResult.ok("202"), clock.t + 10)
    assert (down.kind, router_made(down)) == ("channel.down", "router notice")
    assert (up.kind, router_made(up)) == ("channel.up", "router notice")
    store.close()


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_every_real_payload_is_a_source_event(path):
    import json

    try:
        events = parse_payload(json.loads(path.read_text(encoding="utf-8"))).events
    except UnsupportedSchema:
        pytest.skip("not a payload the adapters take")
    assert [router_made(e) for e in events] == [""] * len(events)


@pytest.mark.parametrize("first_in", ["run.failed", "run.completed"])
def test_a_runs_two_end_notices_of_one_second_count_as_the_first_taken_in(tmp_path, first_in):
    """Azure ML can send a run's two end notices in the same second; the router notified the first
    one taken in, and the digest counts the run the same way, whatever the notices' ids."""
    from alertrouter.model import Event

    store = SqliteStore(tmp_path / "alertrouter.db")
    at = T0 + timedelta(hours=2)
    ends = {kind: Event(id=f"{'z' if kind == first_in else 'a'}-end", source="aml", kind=kind,
                        severity="error" if kind == "run.failed" else "informational", title="run 1 ended",
                        time=at, fingerprint="run:1", labels={"experiment": "churn"})
            for kind in ("run.failed", "run.completed")}
    other = "run.completed" if first_in == "run.failed" else "run.failed"
    store.ingest([(ends[first_in], [])], at.timestamp())  # the first taken in has the id that sorts last
    store.ingest([(ends[other], [])], at.timestamp() + 1)
    data = collect(store, "weekly", period_ending(date(2026, 11, 30), 7, "Europe/Berlin"))
    assert data.current.runs["ended"] == 1
    assert [e.kind for e in data.current.run_ends] == [first_in]
    want = "failed" if first_in == "run.failed" else "succeeded"
    assert data.current.runs[want] == 1
    store.close()
