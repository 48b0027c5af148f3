"""On the shipped routing.yaml a storm from one alert rule reaches the engineers as one group notice
(platform-alerts: group_by alert_rule, group_wait 30s). The preview (`alertrouter render`, the
console's try-a-payload) shows that notice, as the Teams receiver gets it through the real server
and dispatcher; and the notice keeps what people act on: each shown member's fired time, resource,
metric and value, and its portal link; a restricted role's copy has no links and no metrics."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timezone

import requests
from click.testing import CliRunner

from alertrouter.app import App
from alertrouter.cli.main import main
from alertrouter.config.load import load
from alertrouter.inbound import parse_payload
from alertrouter.pipeline import group
from alertrouter.delivery.preview import previews
from tests.conftest import ROOT, Clock, RunningServer, load_fixture, wait_until

N = 7  # five shown, "and 2 more"
PORTAL = "https://portal.azure.com/"


def storm() -> list[dict]:
    """N alerts of one metric rule on N storage accounts, fired a minute apart (the last first)."""
    out = []
    for i in range(N):
        p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
        e = p["data"]["essentials"]
        e["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/storm-{i}"
        e["configurationItems"] = [f"storage-{i}"]
        e["firedDateTime"] = f"2026-11-23T12:{10 - i:02d}:00.000Z"
        out.append(p)
    return out


def card_of(body: dict) -> dict:
    return body["attachments"][0]["content"]


def test_preview_of_a_storm_is_the_group_notice_the_teams_receiver_gets(tmp_path, receiver):
    receiver.expect_request("/se").respond_with_data("", status=202)
    env = {"SE_TEAMS_WEBHOOK_URL": receiver.url_for("/se")}
    loaded = load(ROOT / "routing.yaml", env=env)
    clock = Clock(datetime(2026, 11, 23, 12, 15, tzinfo=timezone.utc).timestamp())
    app = App(loaded, tmp_path / "data", clock=clock)
    payloads = storm()
    events = [e for p in payloads for e in parse_payload(p).events]

    [shown] = previews(loaded, events, "se-teams", None, tmp_path / "preview-data")
    assert shown.label.startswith("group notice alert.fired [verbose] of alert_rule=test-metricAlertRule")
    assert f"{N} alert(s) from this payload" in shown.label and "route platform-alerts" in shown.label

    with RunningServer(app, clock=clock) as server:
        for p in payloads:
            assert requests.post(server.url + "/api/alerts", json=p, timeout=10).status_code == 200
        assert app.tick() == 0  # inside group_wait: nothing yet
        clock.t += 30  # the dispatcher's own loop flushes the group and sends it
        wait_until(lambda: receiver.log, 15, "the group notice at the Teams receiver")
    [(request, _)] = receiver.log
    sent = json.loads(request.get_data())
    assert shown.body == sent  # the preview is what was sent

    card = card_of(sent)
    assert card["body"][1]["text"] == f"{N} firing: alert_rule=test-metricAlertRule"
    text = card["body"][2]["text"]
    lines = [line for line in text.split("\n") if line]
    assert len(lines) == group.SHOWN + 1 and lines[-1] == f"- and {N - group.SHOWN} more"
    for line, i in zip(lines[:-1], range(N - 1, -1, -1)):  # the first to fire first
        assert line == (f"- **Fired: test-metricAlertRule on storage-{i}** · Resource: storage-{i} · "
                        "Metric: Transactions (Total) · Condition: GreaterThan 0 · Value: 100 · Window: 5 min · "
                        "ApiName: GetBlob · "
                        f"Fired at: 2026-11-23 12:{10 - i:02d}:00 UTC")
    facts = {f["title"]: f["value"] for f in card["body"][3]["facts"]}
    assert facts["Fired at"] == "2026-11-23 12:04:00 UTC"  # the first member's, not when it was sent (12:15:30)
    assert "member.1" not in json.dumps(sent)
    actions = card["actions"]
    assert [a["title"] for a in actions] == [f"Alert in Azure portal: storage-{i}" for i in range(N - 1, N - 6, -1)]
    assert all(a["url"].startswith(PORTAL) and f"storm-{i}" in a["url"]
               for a, i in zip(actions, range(N - 1, N - 6, -1)))


def test_a_restricted_role_gets_the_group_notice_without_links_or_metrics(tmp_path):
    """QA (restricted) would get the same group notice readable, without links or metric facts."""
    loaded = load(ROOT / "routing.yaml", env={"SE_TEAMS_WEBHOOK_URL": "https://example.invalid/se",
                                              "QA_TEAMS_WEBHOOK_URL": "https://example.invalid/qa"})
    events = [e for p in storm() for e in parse_payload(p).events]
    [full] = previews(loaded, events, "se-teams", None)
    app, notice = _group_notice(tmp_path, loaded, events)
    msg = app.renderer.render(notice, route="platform-alerts", role="quality-assurance", channel="qa-teams",
                              channel_kind="teams", parts=("title", "text"), visibility="restricted")
    assert msg.template_errors == {}
    card = card_of(app.channels["qa-teams"].build(msg))
    dumped = json.dumps(card)
    assert "https://" not in dumped.replace("http://adaptivecards.io", "") and "actions" not in card
    assert "Transactions" not in dumped and "Value" not in dumped
    text = card["body"][2]["text"]
    assert all(f"Resource: storage-{i} · Fired at: 2026-11-23 12:{10 - i:02d}:00 UTC" in text
               for i in range(N - 1, N - 6, -1))
    assert "actions" in card_of(full.body)  # the full role's copy has them


def test_email_group_notice_lists_members_with_their_facts_escaped(tmp_path):
    loaded = load(ROOT / "routing.yaml", env={})
    payloads = storm()
    payloads[5]["data"]["essentials"]["configurationItems"] = ["<b>storage-5</b>"]
    app, notice = _group_notice(tmp_path, loaded, [e for p in payloads for e in parse_payload(p).events])
    msg = app.renderer.render(notice, route="platform-alerts", role="software-engineer", channel="mail",
                              channel_kind="email", parts=("subject", "text", "html"))
    assert msg.template_errors == {}
    assert "    Resource: storage-6\n    Metric: Transactions (Total)\n" in msg.parts["text"]
    assert "    Value: 100\n" in msg.parts["text"] and "Fired at: 2026-11-23 12:04:00 UTC" in msg.parts["text"]
    assert "- and 2 more" in msg.parts["text"] and "member." not in msg.parts["text"]
    html = msg.parts["html"]
    assert "Alert in Azure portal: storage-6" in html and html.count('href="https://portal.azure.com/') == 5
    assert "&lt;b&gt;storage-5&lt;/b&gt;" in html and "<b>storage-5</b>" not in html  # payload text, not markup


def test_render_cli_says_a_grouped_route_sends_a_group_notice(tmp_path):
    payload = tmp_path / "alert.json"
    payload.write_text(json.dumps(storm()[0]))
    r = CliRunner().invoke(main, ["render", str(payload), "--channel", "se-teams", "--config",
                                  str(ROOT / "routing.yaml"), "--data-dir", str(tmp_path / "data")],
                           env={"SE_TEAMS_WEBHOOK_URL": "https://example.invalid/se?sig=s3cret"})
    assert r.exit_code == 0, r.output
    assert "── group notice alert.fired [verbose] of alert_rule=test-metricAlertRule (the group's first" in r.stdout
    assert '"text": "1 firing: alert_rule=test-metricAlertRule"' in r.stdout
    assert "s3cret" not in r.output


def _group_notice(tmp_path, loaded, events):
    """An app on `loaded`, and the group notice its pipeline makes of these events on platform-alerts."""
    clock = Clock()
    app = App(loaded, tmp_path / "data", clock=clock)
    app.ingest(events)
    clock.t += 30
    assert app.tick() >= 1
    # one notice per group (se-teams and ops-webhook, or both on the log channel): the same content
    first = min(n.event_id for n in app.store.list("pending") if n.event_id.startswith("group|"))
    return app, app.store.get_event(first)
