"""The local server, for real on loopback: limits, errors, handshakes, the Core Tools path,
idempotent intake, delivery failures recorded without leaking the webhook URL."""

from __future__ import annotations

import json
import logging
import socket

import pytest
import requests

from tests.conftest import captured, load_fixture, wait_until

AML = load_fixture("aml-runcompleted.eventgrid.json")
ALERT = load_fixture("monitor-metric-static-fired.test-action.json")


def post(server, path, body, **headers):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(server.url + path, data=data, headers=headers, timeout=10)


def test_body_over_1mb_is_413_and_server_keeps_serving(server):
    resp = post(server, "/api/alerts", b"{" + b" " * (1280 * 1024) + b"}")
    assert resp.status_code == 413
    assert resp.json() == {"error": "request body is over the 1114112-byte limit (ALERTROUTER_MAX_BODY_BYTES)"}
    assert post(server, "/api/alerts", ALERT).status_code == 200


def test_chunked_body_over_the_limit_is_413(server):
    def chunks():
        for _ in range(20):
            yield b"x" * 65536

    resp = requests.post(server.url + "/api/eventgrid", data=chunks(), timeout=10)
    assert resp.status_code == 413


def test_malformed_json_and_unknown_schema_are_400(server):
    bad = post(server, "/api/eventgrid", b"[{]")
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("malformed JSON at line 1 column 3")
    unknown = post(server, "/api/alerts", {"hello": "world"})
    assert unknown.status_code == 400
    assert unknown.json()["error"].startswith("unknown payload: keys hello.")
    assert post(server, "/api/alerts", AML).status_code == 400  # Event Grid payload on the alerts endpoint


def test_garbage_on_a_raw_socket_does_not_kill_the_server(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"\x00\x01garbage that is not HTTP\r\n\r\n")
        s.recv(1024)
    assert requests.get(server.url + "/api/health", timeout=5).status_code == 200


def test_redelivery_is_acknowledged_and_not_routed_again(server, httpserver):
    first = post(server, "/api/eventgrid", AML, **{"aeg-event-type": "Notification"}).json()
    again = post(server, "/api/eventgrid", AML, **{"aeg-event-type": "Notification"}).json()
    assert (first["accepted"], first["duplicates"]) == (1, 0)
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert len(captured(httpserver, 1)) == 1


def test_batch_with_the_same_event_twice(server, httpserver):
    resp = post(server, "/api/eventgrid", AML + AML)
    assert resp.json()["accepted"] == 1 and resp.json()["duplicates"] == 1
    assert len(captured(httpserver, 1)) == 1


def test_validation_handshake_and_cloudevents_options(server):
    resp = post(server, "/api/eventgrid", load_fixture("eventgrid-subscriptionvalidation.request.json"),
                **{"aeg-event-type": "SubscriptionValidation"})
    assert resp.status_code == 200
    assert resp.json() == load_fixture("eventgrid-subscriptionvalidation.response.json")
    opt = requests.options(server.url + "/api/eventgrid", headers={"WebHook-Request-Origin": "eventgrid.azure.net",
                                                                   "WebHook-Request-Rate": "120"}, timeout=5)
    assert opt.status_code == 200
    assert opt.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert opt.headers["WebHook-Allowed-Rate"] == "*"
    assert opt.headers["Allow"] == "POST, OPTIONS"


def test_core_tools_eventgrid_path(server, httpserver):
    url = "/runtime/webhooks/EventGrid?functionName=aml_events"
    resp = post(server, url, load_fixture("aml-runstatuschanged-failed.eventgrid.json"),
                **{"aeg-event-type": "Notification"})
    assert resp.status_code == 200
    assert [b["data"]["kind"] for b in captured(httpserver, 1)] == ["run.failed"]
    wrong = post(server, "/runtime/webhooks/EventGrid?functionName=nope", AML)
    assert wrong.status_code == 404
    assert wrong.json() == {"error": 'no Event Grid trigger function named "nope"; this app has "aml_events" '
                                     "(use ?functionName=aml_events)"}


def test_webhook_body_is_data_with_the_rendered_text(server, httpserver):
    post(server, "/api/alerts", ALERT)
    [body] = captured(httpserver, 1)
    assert body["type"] == "alert.fired"
    assert body["data"]["labels"]["alert_rule"] == "test-metricAlertRule"
    assert body["data"]["text"].startswith("[VERBOSE] Fired: test-metricAlertRule on test-storageAccount")
    [req, _] = httpserver.log[0]
    assert req.headers["X-Test"] == "capture"
    assert req.headers["Content-Type"] == "application/json"


def test_failed_delivery_is_scheduled_again_and_secret_never_logged(server, httpserver, caplog):
    httpserver.clear()
    httpserver.expect_request("/hook").respond_with_data("down", status=503, headers={"Retry-After": "7"})
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="alertrouter.http"):
        resp = post(server, "/api/alerts", ALERT)
        assert resp.status_code == 200  # intake does not fail because a receiver is down
        assert resp.json()["notifications"] == 1
        store = server.app.store
        [n] = wait_until(lambda: [n for n in store.list() if n.attempts == 1], what="the first attempt")
    assert (n.status, n.last_detail) == ("pending", "webhook capture: HTTP 503: down")  # the answer's body is kept
    assert n.next_attempt_at - n.updated_at >= 7  # Retry-After honoured
    [attempt] = store.history(n.id)
    assert (attempt.status, attempt.retry_after) == ("retry", 7.0)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]  # werkzeug = the receiver
    assert any(m.startswith("POST to localhost:") and m.endswith("HTTP 503") for m in ours)  # host only, no path
    assert not any("s3cr3t" in m for m in ours)
    assert "s3cr3t" not in repr(store.history(n.id)) + repr(store.list())


def test_unreachable_webhook_detail_has_no_url(monkeypatch, tmp_path):
    from alertrouter.app import App
    from alertrouter.config.load import loads
    from tests.conftest import CAPTURE_CONFIG, RunningServer

    monkeypatch.setenv("CAPTURE_URL", "http://127.0.0.1:9/hook?sig=s3cr3t")
    app = App(loads(CAPTURE_CONFIG, "capture.yaml"), tmp_path / "d2")
    with RunningServer(app) as srv:
        assert post(srv, "/api/alerts", ALERT).json()["notifications"] == 1
        [n] = wait_until(lambda: [n for n in app.store.list() if n.attempts == 1], what="the first attempt")
    assert (n.status, n.last_detail) == ("pending", "webhook capture: connection failed")


def test_health(server):
    body = requests.get(server.url + "/api/health", timeout=5).json()
    assert body["status"] == "ok" and body["routes"] == 1
    assert body["store"] == {"events": 0, "pending": 0, "sent": 0, "dead": 0, "held": 0}


# --- who may post (the local server with a key, Event Grid allow-lists) ---

WS = "/subscriptions/{subscription-id}/resourceGroups/{resource-group-name}/providers/Microsoft.MachineLearningServices/workspaces/{workspace-name}"


@pytest.fixture
def locked_server(capture_app):
    from alertrouter.http.auth import Authenticator, KeyCheck, SourceFilter
    from tests.conftest import RunningServer

    auth = Authenticator(key=KeyCheck("k3y-0123456789"), sources=SourceFilter([WS], ["aml-sub"]))
    with RunningServer(capture_app, auth=auth) as s:
        yield s


@pytest.mark.parametrize("headers,query,status", [
    ({}, "", 401),
    ({"x-functions-key": "bad-guess-999"}, "", 401),
    ({}, "?code=bad-guess-999", 401),
    ({"x-functions-key": "k3y-0123456789"}, "", 200),
    ({}, "?code=k3y-0123456789", 200),
])
def test_key_required(locked_server, httpserver, headers, query, status):
    resp = requests.post(locked_server.url + "/api/alerts" + query, json=ALERT, headers=headers, timeout=5)
    assert resp.status_code == status
    if status == 401:
        assert "k3y" not in resp.text and "bad-guess" not in resp.text
        assert locked_server.app.store.counts()["events"] == 0  # nothing routed
    else:
        assert len(captured(httpserver, 1)) == 1


def test_eventgrid_allow_lists(locked_server, httpserver):
    key = {"x-functions-key": "k3y-0123456789"}
    other = load_fixture("aml-runcompleted.eventgrid.json")
    other[0]["topic"] = WS.replace("{workspace-name}", "someone-elses")
    other[0]["id"] = "other-1"
    ok = requests.post(locked_server.url + "/api/eventgrid", json=AML + other, timeout=5,
                       headers={**key, "aeg-subscription-name": "AML-SUB"}).json()
    assert (ok["accepted"], ok["dropped"]) == (1, 1)
    denied = requests.post(locked_server.url + "/api/eventgrid", json=AML, timeout=5,
                           headers={**key, "aeg-subscription-name": "stranger"})
    assert denied.status_code == 200 and denied.json()["accepted"] == 0  # acknowledged, dropped
    assert len(captured(httpserver, 1)) == 1
    assert locked_server.app.store.counts()["events"] == 1


def test_serve_refuses_an_open_non_loopback_bind():
    from click.testing import CliRunner

    from alertrouter.cli.main import main
    from tests.conftest import ROOT

    r = CliRunner().invoke(main, ["serve", "--config", str(ROOT / "routing.yaml"), "--host", "0.0.0.0"],
                           env={"ALERTROUTER_API_KEY": ""})
    assert r.exit_code == 1
    assert "refusing to listen on 0.0.0.0 without authentication" in r.stderr
