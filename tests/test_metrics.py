"""GET /metrics after known traffic, read with prometheus_client's own text parser."""

from __future__ import annotations

import json

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import captured, load_fixture, wait_until


def scrape(server) -> dict[tuple, float]:
    resp = requests.get(server.url + "/metrics", timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_counts_after_known_traffic(server, httpserver):
    alert = load_fixture("monitor-metric-static-fired.test-action.json")
    aml = load_fixture("aml-runstatuschanged-failed.eventgrid.json")
    post = lambda path, body: requests.post(server.url + path, data=body, timeout=5)  # noqa: E731
    assert post("/api/alerts", json.dumps(alert)).status_code == 200
    assert post("/api/alerts", json.dumps(alert)).status_code == 200           # a duplicate
    assert post("/api/eventgrid", json.dumps(aml)).status_code == 200
    assert post("/api/alerts", b"{nope").status_code == 400
    assert post("/api/alerts", json.dumps({"x": 1})).status_code == 400
    assert post("/api/eventgrid", b"[" + b" " * (1280 * 1024) + b"]").status_code == 413
    captured(httpserver, 2)
    m = wait_until(lambda: (m := scrape(server)) and m.get(
        ("alertrouter_outbox_notifications", (("status", "sent"),))) == 2 and m.get(
        ("alertrouter_notifications_total", (("channel", "capture"), ("outcome", "delivered")))) == 2 and m,
        what="two sent and counted (the counters follow the outbox's commit)")
    assert m[("alertrouter_events_total", (("kind", "alert.fired"), ("source", "azure-monitor")))] == 1
    assert m[("alertrouter_events_total", (("kind", "run.failed"), ("source", "aml")))] == 1
    assert m[("alertrouter_duplicate_events_total", (("source", "azure-monitor"),))] == 1
    assert m[("alertrouter_rejected_payloads_total", (("endpoint", "alerts"), ("reason", "malformed_json")))] == 1
    assert m[("alertrouter_rejected_payloads_total", (("endpoint", "alerts"), ("reason", "unsupported_schema")))] == 1
    assert m[("alertrouter_rejected_payloads_total", (("endpoint", "eventgrid"), ("reason", "too_large")))] == 1
    assert m[("alertrouter_notifications_total", (("channel", "capture"), ("outcome", "delivered")))] == 2
    assert m[("alertrouter_delivery_latency_seconds_count", (("channel", "capture"),))] == 2
    assert m[("alertrouter_outbox_notifications", (("status", "pending"),))] == 0
    assert m[("alertrouter_outbox_oldest_pending_age_seconds", ())] == 0


def test_log_lines_carry_event_and_notification_ids():
    import logging

    from alertrouter.logs import JsonFormatter, TextFormatter

    record = logging.LogRecord("alertrouter.dispatch", logging.INFO, __file__, 1, "notification %s delivered",
                               ("n_1",), None)
    record.event_id, record.notification_id = "topic|e1", "n_1"
    assert TextFormatter().format(record).endswith(
        "alertrouter.dispatch: notification n_1 delivered [event_id=topic|e1 notification_id=n_1]")
    doc = json.loads(JsonFormatter().format(record))
    assert (doc["message"], doc["event_id"], doc["notification_id"], doc["level"]) == \
        ("notification n_1 delivered", "topic|e1", "n_1", "info")


def test_held_back_counts_by_stage_and_route(server, httpserver):
    alert = load_fixture("monitor-metric-static-fired.test-action.json")
    rule = alert["data"]["essentials"]["alertRule"]
    silence = requests.post(server.url + "/api/silences", timeout=5, data=json.dumps(
        {"matchers": {"alert_rule": rule}, "duration": "1h", "created_by": "ana", "comment": "maintenance"}))
    assert silence.status_code == 201, silence.text
    for i in range(3):
        alert["data"]["essentials"]["alertId"] += f"-{i}"
        assert requests.post(server.url + "/api/alerts", data=json.dumps(alert), timeout=5).json()["notifications"] == 1
    m = scrape(server)
    assert m[("alertrouter_held_notifications_total", (("route", "all"), ("stage", "silence")))] == 3
    assert not [k for k in m if k[0] == "alertrouter_notifications_total"]  # nothing was sent


def test_under_the_functions_host_the_ids_are_in_the_message_text(functions_env, monkeypatch):
    """The Functions worker ships the message text to Application Insights without our formatter:
    there the ids are appended to the message itself, once, on every router logger."""
    import logging

    monkeypatch.setenv("FUNCTIONS_WORKER_RUNTIME", "python")
    functions_env.api()  # builds the App as the first invocation does
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    handler = Keep()
    logger = logging.getLogger("alertrouter.dispatch")
    logger.addHandler(handler)
    try:
        logger.warning("notification %s: attempt failed", "n_1", extra={"event_id": "t|e1", "notification_id": "n_1"})
        logging.getLogger("alertrouter.http").warning("no ids here")
    finally:
        logger.removeHandler(handler)
    assert seen == ["notification n_1: attempt failed [event_id=t|e1 notification_id=n_1]"]
    functions_env.reset()
    assert not logging.getLogger("alertrouter.dispatch").filters  # off again once the App is gone
