"""PagerDuty Events API v2 against a loopback receiver: trigger/resolve pairing on one dedup key,
the payload fields, severity mapping, per-role visibility, and no routing key in results or logs."""

from __future__ import annotations

import json

import pytest

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.transport import make_session
from alertrouter.channels.pagerduty import PagerDutyChannel, PagerDutySender
from alertrouter.model import Severity
from tests.channels import (BUDGET, METRIC_FIRED, RUN_COMPLETED, RUN_FAILED, SERVICE_HEALTH, event, event_fixtures,
                            hidden_from_restricted, metric_fired_pair, posted, render)

KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12"  # 32 characters, like a real integration key
ENQUEUE = "/v2/enqueue"
ACCEPTED = {"status": "success", "message": "Event processed", "dedup_key": "x"}


def pagerduty(url: str, tmp_path, timeout: float = 5.0, key: str = KEY) -> PagerDutySender:
    return PagerDutySender("pd-se", PagerDutyChannel(type="pagerduty", routing_key=key, url=url,
                                                     timeout_seconds=timeout),
                           ChannelContext(session=make_session(), data_dir=tmp_path))


@pytest.fixture
def channel(httpserver, tmp_path):
    httpserver.expect_request(ENQUEUE, method="POST").respond_with_json(ACCEPTED, status=202)
    return pagerduty(httpserver.url_for(ENQUEUE), tmp_path)


def test_fired_then_resolved_share_one_dedup_key(channel, httpserver):
    fired, resolved = metric_fired_pair()
    assert (fired.kind, resolved.kind) == ("alert.fired", "alert.resolved")
    for ev in (fired, resolved):
        result = channel.send(render(channel, ev))
        assert (result.status, result.detail) == ("delivered", "pagerduty pd-se: HTTP 202")
    trigger, resolve = posted(httpserver, ENQUEUE)
    assert trigger["event_action"] == "trigger" and trigger["routing_key"] == KEY
    assert resolve == {"routing_key": KEY, "event_action": "resolve", "dedup_key": trigger["dedup_key"]}
    assert trigger["dedup_key"].startswith("alertrouter-") and len(trigger["dedup_key"]) <= 255


def test_dedup_key_is_bounded_for_a_huge_fingerprint(channel):
    ev = event(METRIC_FIRED)
    long_one = ev.model_copy(update={"fingerprint": "alert:" + "x" * 5000})
    key = channel.build(render(channel, long_one))["dedup_key"]
    assert len(key) <= 255 and key != channel.build(render(channel, ev))["dedup_key"]


def test_metric_alert_trigger_body(channel, httpserver):
    ev = event(METRIC_FIRED)
    msg = render(channel, ev)
    channel.send(msg)
    [body] = posted(httpserver, ENQUEUE)
    assert body == channel.build(msg)
    assert set(body) == {"routing_key", "event_action", "dedup_key", "payload", "links", "client", "client_url"}
    payload = body["payload"]
    assert payload["summary"] == ("[Sev4] Fired: test-metricAlertRule on test-storageAccount: Transactions (Total) "
                                  "GreaterThan 0: value 100 over 5 min. Alertruledescription")
    assert {k: payload[k] for k in ("source", "severity", "timestamp", "component", "group", "class")} == {
        "source": "test-storageAccount", "severity": "info", "timestamp": "2025-04-15T18:17:12.851000+00:00",
        "component": "Transactions", "group": "test-RG", "class": "Metric"}
    assert payload["custom_details"]["threshold"] == "0" and payload["custom_details"]["metric_value"] == "100"
    [portal] = ev.links.values()
    assert body["links"] == [{"href": portal, "text": "Alert in Azure portal"}]
    assert (body["client"], body["client_url"]) == ("alertrouter", portal)


@pytest.mark.parametrize("fixture,action,severity", [
    (RUN_FAILED, "trigger", "error"),
    (RUN_COMPLETED, "trigger", "info"),
    (BUDGET, "trigger", "warning"),
    (SERVICE_HEALTH, "resolve", None),
])
def test_other_fixtures(fixture, action, severity, channel, httpserver):
    ev = event(fixture)
    assert channel.send(render(channel, ev)).status == "delivered"
    [body] = posted(httpserver, ENQUEUE)
    assert body["event_action"] == action
    assert body["dedup_key"] == channel.build(render(channel, ev))["dedup_key"]
    if action == "trigger":
        assert body["payload"]["severity"] == severity
        assert body["payload"]["source"] and body["payload"]["timestamp"] == ev.time.isoformat()
    else:
        assert set(body) == {"routing_key", "event_action", "dedup_key"}


@pytest.mark.parametrize("azure,expected", [(Severity.critical, "critical"), (Severity.error, "error"),
                                            (Severity.warning, "warning"), (Severity.informational, "info"),
                                            (Severity.verbose, "info")])
def test_severity_map(azure, expected, channel):
    ev = event(METRIC_FIRED).model_copy(update={"severity": azure})
    assert channel.build(render(channel, ev))["payload"]["severity"] == expected


def test_data_scientists_get_run_properties(channel, httpserver):
    channel.send(render(channel, event(RUN_FAILED), role="ds"))
    [body] = posted(httpserver, ENQUEUE)
    assert body["payload"]["custom_details"]["property.run_algorithm"] == "LassoLars"
    assert body["links"][0]["href"].startswith("https://ml.azure.com/runs/")


@pytest.mark.parametrize("fixture", event_fixtures())
def test_restricted_rendering_of_every_fixture_leaks_nothing(fixture, channel, httpserver):
    ev = event(fixture)
    channel.send(render(channel, ev, visibility="restricted", role="qa"))
    [body] = posted(httpserver, ENQUEUE)
    assert "links" not in body and "client_url" not in body
    text = json.dumps(body, ensure_ascii=False)
    assert "property." not in text and "ml.azure.com" not in text
    # run ids and resource ids may appear in the event's own title/summary; labels and details must not
    for hidden in hidden_from_restricted(ev):
        assert hidden not in text


@pytest.mark.parametrize("visibility", ["full", "restricted"])
def test_every_fixture_builds_a_valid_event(visibility, channel):
    for name in event_fixtures():
        ev = event(name)
        body = channel.build(render(channel, ev, visibility=visibility))
        assert body["event_action"] == ("resolve" if ev.kind == "alert.resolved" else "trigger")
        if body["event_action"] == "trigger":
            payload = body["payload"]
            assert payload["summary"] and payload["source"] and len(payload["summary"]) <= 1024
            assert payload["severity"] in ("critical", "error", "warning", "info")


def test_long_summary_is_cut_to_1024(channel):
    ev = event(METRIC_FIRED).model_copy(update={"summary": "s" * 5000})
    summary = channel.build(render(channel, ev))["payload"]["summary"]
    assert len(summary) <= 1024 and summary.endswith("…truncated")


def test_secret_values_is_the_routing_key(tmp_path, monkeypatch):
    monkeypatch.setenv("PD_KEY", KEY)
    channel = pagerduty("https://events.pagerduty.com/v2/enqueue", tmp_path, key="${PD_KEY}")
    assert channel.secret_values() == [KEY]
    assert channel.build(render(channel, event(METRIC_FIRED)))["routing_key"] == KEY
