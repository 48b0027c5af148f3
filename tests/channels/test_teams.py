"""Teams through a Workflows webhook, against a loopback receiver standing in for Power Automate:
the message envelope and Adaptive Card 1.4 actually posted, per fixture and per role, the 28 KB cap,
and no URL signature in any result or log line."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.transport import make_session
from alertrouter.channels.teams import MAX_BYTES, TeamsChannel, TeamsSender
from tests.channels import (BUDGET, METRIC_FIRED, METRIC_RESOLVED, RUN_COMPLETED, RUN_FAILED, SERVICE_HEALTH,
                            SIX, event, event_fixtures, hidden_from_restricted, posted, render)

SIG = "Zm9vYmFyc2VjcmV0c2lnbmF0dXJl0123"
PATH = "/workflows/abc/triggers/manual/paths/invoke"


def teams(url: str, tmp_path, timeout: float = 5.0) -> TeamsSender:
    return TeamsSender("team-se", TeamsChannel(type="teams", url=url, timeout_seconds=timeout),
                       ChannelContext(session=make_session(), data_dir=tmp_path))


@pytest.fixture
def channel(httpserver, tmp_path):
    httpserver.expect_request(PATH, method="POST").respond_with_data("", status=202)
    return teams(httpserver.url_for(f"{PATH}?api-version=2016-06-01&sig={SIG}"), tmp_path)


def card_of(message: dict) -> dict:
    assert message["type"] == "message"
    [att] = message["attachments"]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert att["contentUrl"] is None
    card = att["content"]
    assert card["type"] == "AdaptiveCard"
    assert card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    return card


def facts_of(card: dict) -> dict[str, str]:
    return {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}


def element_types(obj) -> set[str]:
    if isinstance(obj, dict):
        return ({obj["type"]} if isinstance(obj.get("type"), str) else set()) | set().union(
            *(element_types(v) for v in obj.values()))
    if isinstance(obj, list):
        return set().union(*(element_types(v) for v in obj)) if obj else set()
    return set()


EXPECTED_HEADER = {  # fixture -> (header text start, colour)
    METRIC_FIRED: ("FIRED · Sev4", "accent"),
    METRIC_RESOLVED: ("RESOLVED · Sev3", "good"),
    RUN_FAILED: ("RUN FAILED · Sev1", "attention"),
    RUN_COMPLETED: ("RUN COMPLETED · Sev3", "good"),
    BUDGET: ("FIRED · Sev2", "warning"),
    SERVICE_HEALTH: ("RESOLVED · Sev4", "good"),
}


@pytest.mark.parametrize("fixture", SIX)
def test_posts_the_envelope_and_a_1_4_card(fixture, channel, httpserver):
    ev = event(fixture)
    msg = render(channel, ev)
    result = channel.send(msg)
    assert (result.status, result.detail) == ("delivered", "teams team-se: HTTP 202")
    [body] = posted(httpserver, PATH)
    assert body == channel.build(msg)
    card = card_of(body)
    header, title, text = card["body"][:3]
    assert header["text"].startswith(EXPECTED_HEADER[fixture][0])
    assert header["color"] == EXPECTED_HEADER[fixture][1]
    assert title["text"] == msg.parts["title"] and title["wrap"] is True
    assert text["text"] == msg.parts["text"] and text["wrap"] is True
    assert element_types(card) <= {"AdaptiveCard", "TextBlock", "FactSet", "Action.OpenUrl"}  # no Table (1.5)
    assert card.get("actions", []) == [{"type": "Action.OpenUrl", "title": k, "url": v} for k, v in ev.links.items()]
    [req] = [r for r, _ in httpserver.log if r.path == PATH]
    assert req.headers["Content-Type"] == "application/json"
    assert len(req.get_data()) < MAX_BYTES


def test_metric_alert_card_says_what_where_since_when_and_the_threshold(channel, httpserver):
    channel.send(render(channel, event(METRIC_FIRED)))
    card = card_of(posted(httpserver, PATH)[0])
    facts = facts_of(card)
    assert {k: facts[k] for k in ("Alert rule", "Resource", "Metric", "Condition", "Value", "Window",
                                  "Monitoring service", "Fired at")} == {
        "Alert rule": "test-metricAlertRule", "Resource": "test-storageAccount", "Metric": "Transactions (Total)",
        "Condition": "GreaterThan 0", "Value": "100", "Window": "5 min", "Monitoring service": "Platform",
        "Fired at": "2025-04-15 18:17:12 UTC"}
    assert card["body"][1]["text"] == "Fired: test-metricAlertRule on test-storageAccount"
    assert card["actions"][0]["title"] == "Alert in Azure portal"
    assert card["actions"][0]["url"].startswith("https://portal.azure.com/")


def test_resolved_alert_is_a_resolved_card(channel, httpserver):
    channel.send(render(channel, event(METRIC_RESOLVED)))
    card = card_of(posted(httpserver, PATH)[0])
    assert card["body"][0]["color"] == "good"
    assert card["body"][2]["text"] == "**Resolved.** Percentage CPU (Average) GreaterThan 25: value 7.727 over 5 min"
    facts = facts_of(card)
    assert facts["Resolved at"] == "2019-03-22 14:03:16 UTC"
    assert (facts["Condition"], facts["Value"]) == ("GreaterThan 25", "7.727")


def test_qa_gets_experiment_ended_with_duration_and_nothing_restricted(channel, httpserver):
    ev = event(RUN_COMPLETED)
    msg = render(channel, ev, visibility="restricted", role="qa", started_at=ev.time - timedelta(minutes=42))
    channel.send(msg)
    [body] = posted(httpserver, PATH)
    card = card_of(body)
    assert card["body"][1]["text"] == ev.title
    assert card["body"][2]["text"] == "Experiment automl-local-regression ended: Completed in 42 min"
    assert facts_of(card) == {"Workspace": "{workspace-name}", "Experiment": "automl-local-regression",
                              "Run status": "completed", "Duration": "42 min", "Ended at": "2017-06-26 18:41:00 UTC"}
    text = json.dumps(body)
    assert "actions" not in card and "ml.azure.com" not in text and "LassoLars" not in text
    assert "Run" not in facts_of(card) and ev.labels["experiment_id"] not in text


def test_data_scientists_get_the_failing_runs_details(channel, httpserver):
    ev = event(RUN_FAILED)
    channel.send(render(channel, ev, role="ds"))
    card = card_of(posted(httpserver, PATH)[0])
    facts = facts_of(card)
    assert facts["Run"] == ev.labels["run_id"] and facts["Run status"] == "failed"
    assert facts["run_algorithm"] == "LassoLars"
    assert facts["pipeline_spec"].endswith("…truncated")  # a long property, cut visibly
    assert card["actions"][0]["url"].startswith("https://ml.azure.com/runs/")


@pytest.mark.parametrize("fixture", event_fixtures())
def test_restricted_rendering_of_every_fixture_leaks_nothing(fixture, channel, httpserver):
    ev = event(fixture)
    channel.send(render(channel, ev, visibility="restricted", role="qa"))
    [body] = posted(httpserver, PATH)
    text = json.dumps(body, ensure_ascii=False)
    assert "Action.OpenUrl" not in text and "Details" not in text
    for hidden in hidden_from_restricted(ev):
        assert hidden not in text


@pytest.mark.parametrize("visibility", ["full", "restricted"])
def test_every_fixture_builds_a_valid_card(visibility, channel):
    for name in event_fixtures():
        message = channel.build(render(channel, event(name), visibility=visibility))
        card = card_of(message)
        assert len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()) <= MAX_BYTES
        assert card["body"][1]["text"] and element_types(card) <= {"AdaptiveCard", "TextBlock", "FactSet",
                                                                     "Action.OpenUrl"}


def test_huge_fields_are_truncated_under_28_kb(channel, httpserver):
    base = event(RUN_FAILED)
    huge = base.model_copy(update={
        "title": "T" * 5000,
        "summary": "description " * 20000,
        "labels": {**base.labels, **{f"label{i}": "v" * 500 for i in range(500)}, "resource": "r" * 50000,
                   "alert_rule": "🔥" * 20000, "experiment": "e" * 30000},
        "details": {f"property.p{i}": "x" * 2000 for i in range(300)},
        "links": {f"link {i}": f"https://ml.azure.com/{i}" for i in range(50)},
    })
    msg = render(channel, huge)
    message = channel.build(msg)
    size = len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())
    assert size <= MAX_BYTES
    assert "…truncated" in json.dumps(message, ensure_ascii=False)
    assert channel.send(msg).status == "delivered"
    [(req, _)] = [(r, x) for r, x in httpserver.log if r.path == PATH]
    assert len(req.get_data()) <= 28 * 1024
    card = card_of(json.loads(req.get_data()))
    assert card["body"][1]["text"].endswith("…truncated") and len(card["actions"]) <= 6


def test_secret_values_name_the_url_and_its_signature(tmp_path, monkeypatch):
    monkeypatch.setenv("TEAMS_URL", f"https://prod-01.westeurope.logic.azure.com{PATH}?api-version=1&sig={SIG}")
    channel = TeamsSender("t", TeamsChannel(type="teams", url="${TEAMS_URL}"),
                          ChannelContext(session=make_session(), data_dir=tmp_path))
    assert channel.secret_values() == [f"https://prod-01.westeurope.logic.azure.com{PATH}?api-version=1&sig={SIG}",
                                       SIG]


def test_a_retired_connector_url_is_warned_about_without_the_url(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        teams(f"https://contoso.webhook.office.com/webhookb2/{SIG}/IncomingWebhook/x/y", tmp_path)
    assert "retired Office 365 connector" in caplog.text and SIG not in caplog.text
