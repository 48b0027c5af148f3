"""The stages end to end, on both stores, with an injected clock (no sleeping): a storm grouped into
a few notices, a silence, inhibition, time windows, lifecycle pairing, escalation and
acknowledgement. Notifications are read back from the outbox; delivery is the dispatcher's job."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from alertrouter.pipeline import escalate, group, silences
from tests.conftest import Clock, load_fixture

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc).timestamp()  # Monday 13:00 in Berlin

CONFIG = """
channels:
  se: {type: webhook, url: "http://127.0.0.1:9/se"}
  pager: {type: webhook, url: "http://127.0.0.1:9/pager"}
  qa: {type: webhook, url: "http://127.0.0.1:9/qa"}
roles:
  on-call: {channels: [pager]}
  se: {channels: [se]}
  lead: {channels: [se]}
  qa: {channels: [qa], muted_during: [quiet]}
time_windows:
  quiet: {time_zone: Europe/Berlin, ranges: [{start: "22:00", end: "24:00"}, {start: "00:00", end: "07:00"}]}
inhibit_rules:
  - name: sev0-holds-lesser
    source: {severity: critical}
    target: {severity: {at_most: warning}}
    equal: [resource]
routes:
  - name: pages
    match: {source: azure-monitor, severity: critical}
    roles: [on-call]
    escalate: {after: 15m, to: [lead]}
  - name: storm
    match: {alert_rule: storm-rule}
    roles: [se]
    group_by: [alert_rule]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
  - name: alerts
    match: {source: azure-monitor}
    roles: [se]
  - name: runs
    match: {kind: [run.started, run.completed, run.failed]}
    roles: [qa]
"""


@pytest.fixture
def app(store, tmp_path):
    clock = Clock(T0)
    a = App(loads(CONFIG, str(tmp_path / "routing.yaml"), env={}), tmp_path / "data", store=store, clock=clock,
            ack_secret=b"k" * 32, public_url="http://127.0.0.1:7071")
    a.test_clock = clock
    return a


def alert(i: int = 0, *, rule: str = "cpu", severity: str = "Sev2", resource: str = "vm-1", resolved: bool = False):
    p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    e = p["data"]["essentials"]
    e["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{rule}-{resource}-{i}"
    e["alertRule"], e["severity"], e["configurationItems"] = rule, severity, [resource]
    if resolved:
        e["monitorCondition"], e["resolvedDateTime"] = "Resolved", "2026-11-23T12:10:00Z"
    [event] = parse_payload(p).events
    return event


def outbox(app, status=None):
    return sorted(app.store.list(status, limit=10_000), key=lambda n: (n.created_at, n.id))


def test_storm_becomes_a_few_group_notices(app, request):
    # 200 alerts from one rule on 50 resources (40 on 10 on Azurite, which takes ~40 ms an event)
    n = 40 if "azure" in request.node.name else 200
    app.ingest([alert(i, rule="storm-rule", resource=f"vm-{i % (n // 4)}") for i in range(n)])
    assert {n.status for n in outbox(app)} == {"held"}
    assert all(n.last_detail.startswith("grouped into storm/se/se/{alert_rule=storm-rule}") for n in outbox(app))
    assert app.tick() == 0                      # group_wait not over
    app.test_clock.t += 30
    assert app.tick() == 1
    [notice] = [n for n in outbox(app, "pending")]
    event = app.store.get_event(notice.event_id)
    assert event.title == f"{n} firing: alert_rule=storm-rule"
    assert event.labels["group_size"] == str(n) and event.summary.count("\n- ") == 5  # five shown, and more
    assert event.summary.endswith(f"- and {n - 5} more")
    app.test_clock.t += 10
    app.ingest([alert(i, rule="storm-rule", resource=f"vm-{i % (n // 4)}") for i in range(n, n + 10)])
    assert app.tick() == 0                      # changes wait for group_interval
    app.test_clock.t += 300
    assert app.tick() == 1
    app.test_clock.t += 10
    app.ingest([alert(i, rule="storm-rule", resource=f"vm-{i % (n // 4)}", resolved=True) for i in range(n + 10)])
    app.test_clock.t += 300
    assert app.tick() == 1
    last = app.store.get_event(outbox(app, "pending")[-1].event_id)
    assert (last.kind, last.title) == ("alert.resolved", f"All {n + 10} resolved: alert_rule=storm-rule")
    app.test_clock.t += 5 * 3600
    assert app.tick() == 0                      # resolved groups do not repeat
    assert len(outbox(app, "pending")) == 3


def test_a_group_that_resolves_inside_group_wait_is_never_notified(app):
    app.ingest([alert(1, rule="storm-rule")])
    app.test_clock.t += 10
    app.ingest([alert(1, rule="storm-rule", resolved=True)])
    app.test_clock.t += 30
    assert app.tick() == 0 and outbox(app, "pending") == []


def test_a_group_that_forms_again_after_it_resolved_is_notified_again(app):
    # the next storm of a rule whose group resolved: a new group, whose notices are not taken for the old one's
    app.ingest([alert(1, rule="storm-rule")])
    app.test_clock.t += 30
    assert app.tick() == 1
    app.test_clock.t += 10
    app.ingest([alert(1, rule="storm-rule", resolved=True)])
    app.test_clock.t += 300
    assert app.tick() == 1                      # all resolved: the group is done
    app.test_clock.t += 86400
    app.ingest([alert(2, rule="storm-rule")])
    app.test_clock.t += 30
    assert app.tick() == 1
    notices = [app.store.get_event(n.event_id) for n in outbox(app, "pending")]
    assert [(e.kind, e.title) for e in notices] == [("alert.fired", "1 firing: alert_rule=storm-rule"),
                                                    ("alert.resolved", "Resolved: alert_rule=storm-rule"),
                                                    ("alert.fired", "1 firing: alert_rule=storm-rule")]
    assert len({e.id for e in notices}) == 3


def test_unchanged_firing_group_repeats_after_repeat_interval(app):
    app.ingest([alert(1, rule="storm-rule")])
    app.test_clock.t += 30
    assert app.tick() == 1
    app.test_clock.t += 3600
    assert app.tick() == 0
    app.test_clock.t += 3 * 3600
    assert app.tick() == 1


def test_silence_holds_and_expiry_releases_nothing(app):
    s = silences.create(app.store, matchers={"resource": "vm-7"}, starts_at=T0, ends_at=T0 + 3600,
                        created_by="ana", comment="planned reboot", now=T0)
    app.ingest([alert(1, resource="vm-7"), alert(2, resource="vm-8")])
    held = outbox(app, "held")
    assert [n.last_detail for n in held] == [f"silenced by {s.id} (planned reboot, by ana)"]
    assert len(outbox(app, "pending")) == 1
    silences.expire(app.store, s.id, T0 + 60)
    app.test_clock.t += 60
    app.tick()
    assert len(outbox(app, "held")) == 1 and len(outbox(app, "pending")) == 1
    app.ingest([alert(3, resource="vm-7")])     # after the silence: sent
    assert len(outbox(app, "pending")) == 2


def test_inhibition_while_a_sev0_fires_on_the_resource(app):
    app.ingest([alert(1, severity="Sev0", resource="vm-1")])
    app.ingest([alert(2, severity="Sev2", resource="vm-1"), alert(3, severity="Sev2", resource="vm-2")])
    held = outbox(app, "held")
    assert len(held) == 1 and held[0].last_detail.startswith("inhibited by Fired: cpu on vm-1 (rule sev0-holds-lesser)")
    app.ingest([alert(1, severity="Sev0", resource="vm-1", resolved=True)])
    app.ingest([alert(4, severity="Sev2", resource="vm-1")])
    assert len(outbox(app, "held")) == 1        # the Sev0 resolved: no longer inhibited


def test_quiet_hours_defer_qa_but_not_pages(app):
    app.test_clock.t = datetime(2026, 11, 23, 22, 30, tzinfo=timezone.utc).timestamp()  # 23:30 Berlin
    run = copy.deepcopy(load_fixture("aml-runstatuschanged-running.eventgrid.json"))
    app.ingest(parse_payload(run).events + [alert(1, severity="Sev0")])
    by_role = {n.role: n for n in outbox(app)}
    assert by_role["qa"].next_attempt_at == datetime(2026, 11, 24, 6, 0, tzinfo=timezone.utc).timestamp()
    assert by_role["qa"].last_detail == "deferred until 2026-11-24T07:00:00+01:00 (quiet)"
    assert by_role["on-call"].next_attempt_at == app.test_clock.t


def test_one_end_notice_per_run(app):
    completed = copy.deepcopy(load_fixture("aml-runstatuschanged-running.eventgrid.json"))
    completed[0]["data"]["runStatus"], completed[0]["id"] = "Completed", "status-completed"
    run_completed = copy.deepcopy(load_fixture("aml-runcompleted-mixedcase.eventgrid.json"))
    app.ingest(parse_payload(completed).events)
    app.ingest(parse_payload(run_completed).events)
    pending, held = outbox(app, "pending"), outbox(app, "held")
    assert len(pending) == 1 and len(held) == 1
    assert held[0].last_detail == "duplicate end notice: this run's end was already reported (run.completed)"


def test_escalation_and_acknowledgement(app):
    app.ingest([alert(1, severity="Sev0")])
    [page] = outbox(app, "pending")
    channel = app.channels["pager"]
    link = app.render(app.store.get_event(page.event_id), _target(page), channel).view["links"]["Acknowledge"]
    token = link.split("token=", 1)[1]
    app.test_clock.t += 14 * 60
    assert app.tick() == 0
    app.test_clock.t += 60
    assert app.tick() == 1                      # nobody acknowledged in 15 min: the lead hears of it
    [esc] = [n for n in outbox(app, "pending") if n.role == "lead"]
    assert app.store.get_event(esc.event_id).title.startswith("Not acknowledged after 15 min: Fired: cpu")
    assert app.tick() == 0                      # once
    notice = app.acknowledge(token, "ana")
    assert (notice.kind, notice.title) == ("alert.acknowledged", "Acknowledged by ana: Fired: cpu on vm-1")
    assert [n.role for n in outbox(app, "pending") if n.event_id == notice.id] == ["on-call"]
    with pytest.raises(escalate.AckError) as reused:
        app.acknowledge(token, "bob")
    assert (reused.value.status, reused.value.reason) == (409, "already acknowledged")


def test_acknowledging_in_time_stops_the_escalation(app):
    app.ingest([alert(1, severity="Sev0")])
    [page] = outbox(app, "pending")
    event = app.store.get_event(page.event_id)
    token = escalate.make_token(b"k" * 32, event.id, event.fingerprint, "pages", T0)
    app.test_clock.t += 60
    app.acknowledge(token, "ana")
    app.test_clock.t += 3600
    assert app.tick() == 0
    assert not [n for n in outbox(app) if n.role == "lead"]


@pytest.mark.parametrize("mangle,status,reason", [
    (lambda t: t[:-2] + ("AA" if t[-2:] != "AA" else "BB"), 403, "acknowledge token has a bad signature"),
    (lambda t: "nonsense", 400, "malformed acknowledge token"),
    (None, 403, "acknowledge token expired"),
])
def test_forged_or_expired_tokens_are_refused(app, mangle, status, reason):
    app.ingest([alert(1, severity="Sev0")])
    event = app.store.get_event(outbox(app)[0].event_id)
    if mangle is None:
        token = escalate.make_token(b"k" * 32, event.id, event.fingerprint, "pages", T0 - 8 * 86400)
    else:
        token = mangle(escalate.make_token(b"k" * 32, event.id, event.fingerprint, "pages", T0))
    with pytest.raises(escalate.AckError) as info:
        app.acknowledge(token, "mallory")
    assert (info.value.status, info.value.reason) == (status, reason)
    forged = escalate.make_token(b"x" * 32, event.id, event.fingerprint, "pages", T0)
    with pytest.raises(escalate.AckError):
        app.acknowledge(forged, "mallory")


def _target(n):
    from alertrouter.config.types import Target

    return Target(n.route, n.role, n.channel, n.fallback_from)


def test_a_storm_of_any_size_is_counted_whole(app, request):
    """Every member counts, however many: the notice, its labels and the resolution (members are
    documents of their own, not a list inside the group's)."""
    n = 30 if "azure" in request.node.name else 700
    app.ingest([alert(i, rule="storm-rule", resource=f"vm-{i}") for i in range(n)])
    app.test_clock.t += 30
    assert app.tick() == 1
    first = app.store.get_event(outbox(app, "pending")[-1].event_id)
    assert first.title == f"{n} firing: alert_rule=storm-rule" and first.labels["group_size"] == str(n)
    # the shown members as data (their resource and portal link), no internal member.N details
    assert first.details == {} and len(first.members) == group.SHOWN
    assert len({m["labels"]["resource"] for m in first.members} & {f"vm-{i}" for i in range(n)}) == group.SHOWN
    assert all(m["links"]["Alert in Azure portal"].startswith("https://portal.azure.com/") for m in first.members)
    app.test_clock.t += 10
    app.ingest([alert(i, rule="storm-rule", resource=f"vm-{i}", resolved=True) for i in range(n // 2)])
    app.test_clock.t += 300
    assert app.tick() == 1
    half = app.store.get_event(outbox(app, "pending")[-1].event_id)
    assert half.title == f"{n - n // 2} firing, {n // 2} resolved: alert_rule=storm-rule"
    app.ingest([alert(i, rule="storm-rule", resource=f"vm-{i}", resolved=True) for i in range(n // 2, n)])
    app.test_clock.t += 300
    assert app.tick() == 1
    last = app.store.get_event(outbox(app, "pending")[-1].event_id)
    assert (last.kind, last.title) == ("alert.resolved", f"All {n} resolved: alert_rule=storm-rule")
    assert app.store.state_list("group") == []  # a resolved group leaves nothing behind
    [(key, *_)] = {(n.last_detail.removeprefix("grouped into "),) for n in outbox(app, "held")}
    assert app.store.state_list(group.member_kind(key)) == []


def test_a_group_document_with_inline_members_is_carried_over(app):
    """Groups stored before members had documents of their own keep counting their members."""
    app.ingest([alert(1, rule="storm-rule", resource="vm-new")])
    [(key, doc, version)] = app.store.state_list("group")
    legacy = {"fp-old-1": {"title": "old one", "severity": "error", "time": T0 - 60, "firing": True,
                           "source": "azure-monitor", "event_id": "e-old-1"},
              "fp-old-2": {"title": "old two", "severity": "warning", "time": T0 - 50, "firing": False,
                           "source": "azure-monitor", "event_id": "e-old-2"}}
    assert app.store.state_put("group", key, {**doc, "members": legacy, "extra": 0}, version, T0)
    app.test_clock.t += 30
    assert app.tick() == 1
    notice = app.store.get_event(outbox(app, "pending")[-1].event_id)
    assert notice.title == "2 firing, 1 resolved: alert_rule=storm-rule"
    assert "members" not in app.store.state_get("group", key)[0]
    assert len(app.store.state_list(group.member_kind(key))) == 3
