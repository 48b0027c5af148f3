"""Graph sendMail: real msal against a local HTTPS identity endpoint (tests/channels/conftest.py),
pytest-httpserver standing in for Graph."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from alertrouter.channels.base import ChannelContext, DeliveryResult
from alertrouter.channels.email_graph import GraphMailSender
from alertrouter.channels.email_graph import EmailChannel
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer
from tests.channels.conftest import ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, TENANT
from tests.conftest import free_port, load_fixture

SENDER = "alerts@contoso.com"
SEND_PATH = f"/v1.0/users/{SENDER}/sendMail"
METRIC = "monitor-metric-static-fired.test-action.json"
RUN_DONE = "aml-runcompleted.eventgrid.json"


@pytest.fixture(autouse=True)
def _env(monkeypatch):
    monkeypatch.setenv("TEST_GRAPH_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("TEST_MAIL_TO", "oncall@contoso.com, se-team@contoso.com")


def channel(tmp_path, session, authority_host: str, graph_url: str, **over) -> GraphMailSender:
    cfg = EmailChannel(**{
        "type": "email", "tenant_id": TENANT, "client_id": CLIENT_ID, "client_secret": "${TEST_GRAPH_SECRET}",
        "sender": SENDER, "to": ["${TEST_MAIL_TO}"], "cc": ["lead@contoso.com"],
        "authority_host": authority_host, "graph_url": graph_url, "timeout_seconds": 5, **over})
    return GraphMailSender("mail", cfg, ChannelContext(session, tmp_path))


@pytest.fixture
def graph(httpserver):
    """Graph's base URL on the loopback receiver."""
    return httpserver.url_for("/v1.0")


@pytest.fixture
def mail(tmp_path, tls_session, identity, graph):
    return channel(tmp_path, tls_session, identity.authority_host, graph)


def render(fixture: str = METRIC, *, role: str = "se", visibility: str = "full", recipients=None,
           run_minutes: int | None = None, nid: str = "n_graph"):
    [event] = parse_payload(load_fixture(fixture)).events
    started = event.time - timedelta(minutes=run_minutes) if run_minutes is not None else None
    return Renderer(strict=True).render(
        event, notification_id=nid, route="r", role=role, channel="mail",
        channel_kind=GraphMailSender.template_kind, parts=GraphMailSender.parts, visibility=visibility,
        recipients=recipients, started_at=started)


def sent(httpserver) -> list[dict]:
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == SEND_PATH]


def assert_no_secret(result: DeliveryResult, caplog):
    for secret in (CLIENT_SECRET, ACCESS_TOKEN):
        assert secret not in result.detail
        assert not any(secret in r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug"))


def test_sendmail_json_for_an_alert_with_the_channel_recipients(mail, httpserver, identity, caplog):
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_data("", status=202)
    msg = render(METRIC)
    with caplog.at_level(logging.DEBUG):
        result = mail.send(msg)
    assert result == DeliveryResult.ok("email mail: HTTP 202, sent to 3 recipient(s) (token from identity_provider)")
    [body] = sent(httpserver)
    assert body == {
        "message": {
            "subject": "[Sev4] Fired: test-metricAlertRule on test-storageAccount",
            "body": {"contentType": "HTML", "content": msg.parts["html"]},
            "toRecipients": [{"emailAddress": {"address": "oncall@contoso.com"}},
                             {"emailAddress": {"address": "se-team@contoso.com"}}],
            "ccRecipients": [{"emailAddress": {"address": "lead@contoso.com"}}],
        },
        "saveToSentItems": False,
    }
    html = body["message"]["body"]["content"]
    assert html.startswith("<!DOCTYPE html>")
    assert 'href="https://portal.azure.com/#view/Microsoft_Azure_Monitoring_Alerts/' in html
    assert "Transactions (Total) GreaterThan 0 over 5 min: value 100" in html
    [req] = [r for r, _ in httpserver.log if r.path == SEND_PATH]
    assert req.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert req.headers["Content-Type"] == "application/json"
    # what real msal posted to the token endpoint: client credentials, scope derived from graph_url
    [form] = identity.token_forms
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == CLIENT_ID
    assert form["client_secret"] == CLIENT_SECRET
    assert form["scope"] == f"http://localhost:{httpserver.port}/.default"
    assert mail.build(msg) == body
    assert_no_secret(result, caplog)


def test_sendmail_json_for_qa_run_end_uses_the_role_recipients_and_no_restricted_fields(mail, httpserver):
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_data("", status=202)
    msg = render(RUN_DONE, role="qa", visibility="restricted", run_minutes=42,
                 recipients={"to": ["qa@contoso.com"], "cc": []})
    assert mail.send(msg).status == "delivered"
    [body] = sent(httpserver)
    assert body["message"]["subject"] == "Experiment automl-local-regression ended: Completed in 42 min"
    assert body["message"]["toRecipients"] == [{"emailAddress": {"address": "qa@contoso.com"}}]
    assert body["message"]["ccRecipients"] == []
    html = body["message"]["body"]["content"]
    assert "Experiment automl-local-regression ended: Completed in 42 min" in html
    raw = json.dumps(body)
    for leaked in ("ml.azure.com", "href=", "property.", "LassoLars", "aml://", "pipeline_spec", "Details"):
        assert leaked not in raw


def test_the_second_send_uses_the_cached_token(mail, httpserver, identity):
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_data("", status=202)
    assert mail.send(render()).status == "delivered"
    assert mail.last_token_source == "identity_provider"
    second = mail.send(render(nid="n_other"))
    assert second.status == "delivered" and "token from cache" in second.detail
    assert mail.last_token_source == "cache"
    assert (len(identity.token_forms), identity.discoveries(), len(sent(httpserver))) == (1, 1, 2)


def test_constructing_and_previewing_do_no_network_io(tmp_path, tls_session, graph):
    dead = f"https://localhost:{free_port()}"
    ch = channel(tmp_path, tls_session, dead, graph)
    assert ch.build(render())["message"]["subject"].startswith("[Sev4]")
    assert ch._app is None


def test_graph_401_refreshes_the_token_once(mail, httpserver, identity, caplog):
    httpserver.expect_oneshot_request(SEND_PATH, method="POST").respond_with_data("", status=401)
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_data("", status=202)
    with caplog.at_level(logging.DEBUG):
        result = mail.send(render())
    assert result.status == "delivered"
    assert mail.last_token_source == "identity_provider"  # a fresh token, not the dropped one
    assert (len(identity.token_forms), len(sent(httpserver))) == (2, 2)
    assert_no_secret(result, caplog)


def test_graph_401_twice_is_permanent(mail, httpserver, identity):
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_json(
        {"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}}, status=401)
    result = mail.send(render())
    assert result == DeliveryResult.permanent(
        "email mail: HTTP 401 with a fresh token (InvalidAuthenticationToken; check the app registration)")
    assert (len(identity.token_forms), len(sent(httpserver))) == (2, 2)


@pytest.mark.parametrize("status,headers,body,outcome,after,detail", [
    (429, {"Retry-After": "7"}, {}, "retry", 7.0, "email mail: HTTP 429"),
    (503, {"Retry-After": "30"}, {}, "retry", 30.0, "email mail: HTTP 503"),
    (500, {}, {}, "retry", None, "email mail: HTTP 500"),
    (400, {}, {"error": {"code": "ErrorInvalidRecipients", "message": "x"}}, "failed", None,
     "email mail: HTTP 400 (ErrorInvalidRecipients)"),
    (403, {}, {"error": {"code": "ErrorAccessDenied", "message": "x"}}, "failed", None,
     "email mail: HTTP 403 (ErrorAccessDenied; the app needs the Mail.Send application permission for "
     "alerts@contoso.com)"),
    (404, {}, {"error": {"code": "ErrorInvalidUser", "message": "x"}}, "failed", None,
     "email mail: HTTP 404 (ErrorInvalidUser)"),
])
def test_graph_status_codes(mail, httpserver, caplog, status, headers, body, outcome, after, detail):
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_json(body, status=status, headers=headers)
    with caplog.at_level(logging.DEBUG):
        result = mail.send(render())
    assert result == DeliveryResult(outcome, detail, after)
    assert_no_secret(result, caplog)


def test_invalid_client_is_permanent_and_graph_is_not_called(mail, httpserver, identity, caplog):
    identity.answer = (401, {"error": "invalid_client", "error_codes": [7000215],
                             "error_description": "AADSTS7000215: Invalid client secret provided."})
    with caplog.at_level(logging.DEBUG):
        result = mail.send(render())
    assert result == DeliveryResult.permanent("email mail: token request rejected (invalid_client)")
    assert sent(httpserver) == []
    assert any("AADSTS7000215" in r.getMessage() for r in caplog.records)
    assert_no_secret(result, caplog)


def test_token_endpoint_server_error_is_retried(mail, httpserver, identity):
    identity.answer = (503, {"error": "temporarily_unavailable"})
    result = mail.send(render())
    assert result.status == "retry" and "token endpoint" in result.detail
    assert sent(httpserver) == []


def test_unreachable_authority_is_retried_then_recovers(tmp_path, tls_session, identity, graph, httpserver):
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_data("", status=202)
    ch = channel(tmp_path, tls_session, f"https://localhost:{free_port()}", graph)
    assert ch.send(render()) == DeliveryResult.retry("email mail: token endpoint: connection failed")
    assert ch._app is None  # not half-built: the next attempt discovers again
    ch._authority = f"{identity.authority_host}/{TENANT}"  # the endpoint comes back
    assert ch.send(render()).status == "delivered"


def test_an_http_authority_is_a_permanent_config_error(tmp_path, tls_session, graph):
    ch = channel(tmp_path, tls_session, f"http://localhost:{free_port()}", graph)
    result = ch.send(render())
    assert result.status == "failed" and "must be https://HOST/TENANT" in result.detail


def test_graph_unreachable_is_retried(tmp_path, tls_session, identity):
    ch = channel(tmp_path, tls_session, identity.authority_host, f"http://127.0.0.1:{free_port()}/v1.0")
    assert ch.send(render()) == DeliveryResult.retry("email mail: Graph: connection failed")


def test_no_recipients_is_permanent_without_a_token_request(tmp_path, tls_session, identity, graph, monkeypatch):
    monkeypatch.delenv("TEST_MAIL_TO")
    ch = channel(tmp_path, tls_session, identity.authority_host, graph, cc=[])
    result = ch.send(render())
    assert result.status == "failed" and "no recipients" in result.detail
    assert identity.token_forms == []


def test_secret_values_cover_the_client_secret_and_the_token(mail, httpserver):
    assert mail.secret_values() == [CLIENT_SECRET]
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_data("", status=202)
    mail.send(render())
    assert mail.secret_values() == [CLIENT_SECRET, ACCESS_TOKEN]
