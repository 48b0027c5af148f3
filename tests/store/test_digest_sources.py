"""The digest on both stores (SQLite, Azure on Azurite): it counts what Azure sent, not the notices the
router made from it (group notices, escalations), and it is sent only for a period the router was
running for. Real intake (App.ingest and tick with an injected clock), the real digest runner, a real
SMTP server."""

from __future__ import annotations

import copy
import email
import email.policy
import logging
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from alertrouter.app import App
from alertrouter.channels.build import build_channels
from alertrouter.config.load import loads
from alertrouter.digest import DigestRunner, PeriodLedger
from alertrouter.digest.sources import router_made
from alertrouter.digest.storage import events_between, took_in_before
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer
from tests.channels.conftest import smtp_server, tls_files  # noqa: F401  aiosmtpd on loopback
from tests.conftest import Clock, load_fixture

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)                # Tuesday of the week 23 – 29 Nov 2026
PERIOD_START = datetime(2026, 11, 23, tzinfo=BERLIN)
PERIOD_END = datetime(2026, 11, 30, tzinfo=BERLIN)
FIRES = datetime(2026, 11, 30, 8, 5, tzinfo=BERLIN)         # just after the Monday 08:00 digest
N = 35

CONFIG = """
channels:
  se: {type: webhook, url: "http://127.0.0.1:9/se"}
  pager: {type: webhook, url: "http://127.0.0.1:9/pager"}
  analyst-mail: {type: smtp, host: 127.0.0.1, port: PORT, starttls: false, sender: alertrouter@contoso.com,
                 timeout_seconds: 5}
roles:
  on-call: {channels: [pager]}
  se: {channels: [se]}
  lead: {channels: [se]}
  business-analyst: {channels: [analyst-mail], recipients: {to: [analysts@contoso.com]}}
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
    group_interval: 5m
    repeat_interval: 4h
digests:
  weekly-summary:
    schedule: "0 0 8 * * Mon"
    time_zone: Europe/Berlin
    roles: [business-analyst]
"""


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def alert(i: int, fired: datetime, *, severity: str = "Sev2", resolved: datetime | None = None):
    p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    e = p["data"]["essentials"]
    e["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/storm-{i}"
    e["alertRule"], e["severity"], e["configurationItems"] = "storm-rule", severity, [f"vm-{i}"]
    e["firedDateTime"] = iso(fired)
    if resolved is not None:
        e["monitorCondition"], e["resolvedDateTime"] = "Resolved", iso(resolved)
    [event] = parse_payload(p).events
    return event


def make_app(store, tmp_path, port: int, clock: Clock) -> App:
    return App(loads(CONFIG.replace("PORT", str(port)), str(tmp_path / "routing.yaml"), env={}), tmp_path / "data",
               store=store, clock=clock, ack_secret=b"k" * 32, public_url="http://127.0.0.1:7071")


def make_runner(app: App, clock: Clock) -> DigestRunner:
    return DigestRunner(app.loaded, app.store, build_channels(app.loaded, app.data_dir), Renderer(strict=True),
                        clock=clock, sleep=lambda s: None)


def texts(server) -> list[str]:
    out = []
    for env in server.inbox.envelopes:
        msg = email.message_from_bytes(env.original_content, policy=email.policy.default)
        out.append(msg.get_body(("plain",)).get_content().replace("\r\n", "\n"))
    return out


def test_a_storm_on_a_grouped_route_with_an_escalation_counts_its_source_alerts(store, tmp_path, smtp_server):
    server = smtp_server()
    clock = Clock(T0.timestamp())
    app = make_app(store, tmp_path, server.port, clock)
    app.ingest([alert(i, T0, severity="Sev0" if i == 0 else "Sev2") for i in range(N)])
    clock.t += 30
    assert app.tick() == 1                          # the group notice: "35 firing"
    clock.t += 15 * 60
    assert app.tick() == 1                          # the Sev0 alert escalated to the lead
    resolved_at = T0 + timedelta(hours=1)
    clock.t = resolved_at.timestamp()
    app.ingest([alert(i, T0, resolved=resolved_at) for i in range(1, 11)])
    clock.t += 300
    assert app.tick() == 1                          # the group notice: "25 firing, 10 resolved"

    # the store holds the router's own alert.fired events next to the 35 from Azure
    stored = events_between(store, PERIOD_START, PERIOD_END, ["alert.fired"])
    made = sorted(router_made(e) for e in stored if router_made(e))
    assert made == ["escalation", "group notice", "group notice"]
    assert len(stored) == N + 3

    clock.t = FIRES.timestamp()
    runner = make_runner(app, clock)
    data = runner.build("weekly-summary", runner.latest("weekly-summary"))
    assert (data.period.start, data.period.end) == (PERIOD_START, PERIOD_END)
    cur = data.current
    assert cur.alerts["fired"] == N
    assert cur.alerts["by_severity"] == {"critical": 1, "error": 0, "warning": N - 1, "informational": 0,
                                         "verbose": 0}
    assert cur.top_rules == [{"rule": "storm-rule", "fired": N}]
    assert sum(sum(day.values()) for day in cur.alerts_per_day.values()) == N
    assert (cur.resolution["resolved"], cur.resolution["open"]) == (10, N - 10)
    assert cur.resolution["median"] == 3600.0

    [outcome] = runner.run_due()
    assert outcome.status == "sent", outcome.summary()
    [text] = texts(server)
    assert f"ALERTS FIRED: {N}\n" in text
    assert "10 resolved; 25 fired in the period and still open at its end" in text


def test_a_new_store_does_not_mail_last_week_and_says_why_once(store, tmp_path, smtp_server, caplog):
    server = smtp_server()
    clock = Clock(FIRES.timestamp())
    app = make_app(store, tmp_path, server.port, clock)   # first start: Monday 08:05, nothing taken in yet
    runner = make_runner(app, clock)
    assert not took_in_before(store, PERIOD_END)
    with caplog.at_level(logging.INFO, logger="alertrouter.digest"):
        [outcome] = runner.run_due()
        clock.t += 300
        assert runner.run_due() == []                   # the next checks: recorded, nothing to do
        clock.t += 300
        assert runner.run_due() == []
    assert outcome.status == "no-data"
    assert server.inbox.envelopes == []
    why = [r.getMessage() for r in caplog.records if "no-data" in r.getMessage()]
    assert len(why) == 1, why
    assert "not sent: the store took in no events before the period ended (Mon 30 Nov 2026 00:00" in why[0]
    record = PeriodLedger(store).get("weekly-summary", "2026-11-23T00:00:00+01:00")
    assert record["status"] == "no-data" and "not running" in record["detail"]

    # events from this week on: next Monday's digest goes, a quiet one included
    clock.t = (FIRES + timedelta(hours=2)).timestamp()
    app.ingest([alert(1, FIRES + timedelta(hours=2))])
    clock.t = (FIRES + timedelta(days=7)).timestamp()
    [outcome] = runner.run_due()
    assert outcome.status == "sent", outcome.summary()


def test_a_quiet_week_of_a_running_router_is_sent(store, tmp_path, smtp_server):
    server = smtp_server()
    before = PERIOD_START - timedelta(days=3)
    clock = Clock(before.timestamp())
    app = make_app(store, tmp_path, server.port, clock)
    app.ingest([alert(i, before) for i in range(3)])      # the week before: three alerts, then nothing
    clock.t = FIRES.timestamp()
    [outcome] = make_runner(app, clock).run_due()
    assert outcome.status == "sent", outcome.summary()
    [text] = texts(server)
    assert "ALERTS FIRED: 0\n" in text
    assert "Alerts fired" in text and "before 3" in text  # compared with the week before
