"""Run owners end to end: a run tag goes in through intake, the dispatcher delivers through the real
SMTP channel to aiosmtpd and through the real Graph channel (real msal) to a local Graph, and the
only recipients those servers see are the allowed ones, exactly as they were checked."""

from __future__ import annotations

import copy
import email
import email.policy
import json
import logging

import pytest

from alertrouter.app import App
from alertrouter.build import dispatcher_for
from alertrouter.channels.build import build_channels
from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from alertrouter.config.types import Target
from tests.channels.conftest import CLIENT_ID, CLIENT_SECRET, TENANT
from tests.conftest import load_fixture

SENDER = "alerts@contoso.com"
SEND_PATH = f"/v1.0/users/{SENDER}/sendMail"
EVIL = "evil@evil.example(@contoso.com, ana@contoso.com"
HOSTILE = [
    EVIL,
    '"Ana" <ana@contoso.com>',
    "ana@contoso.com.evil.example",
    "ana@evil.example,bob@contoso.com",
    "ana@[1.2.3.4]",
    '"evil@evil.example"@contoso.com',
    "ana@contoso.com\r\nBcc: x@evil.example",
    "ana@cont\u043eso.com",
    "@evil.example:zoe@contoso.com",
    "evil.example!zoe@contoso.com",
    "Zoe@Contoso.com",
]
ALLOWED = {"ana@contoso.com", "bob@contoso.com", "zoe@contoso.com"}

CONFIG = """
channels:
  smtp: {{type: smtp, host: 127.0.0.1, port: {smtp_port}, starttls: false, sender: {sender}, rate_limit: 0,
          budget_per_minute: 0, timeout_seconds: 5}}
  graph: {{type: email, tenant_id: {tenant}, client_id: {client_id}, client_secret: "${{TEST_GRAPH_SECRET}}",
           sender: {sender}, authority_host: "{authority}", graph_url: "{graph}", rate_limit: 0,
           budget_per_minute: 0, timeout_seconds: 5}}
roles:
  qa:
    channels: [{channel}]
    recipients: {{to: ["${{QA_EMAIL_TO}}"]}}
routes:
  - {{name: runs, match: {{kind: run.failed}}, roles: [qa]}}
run_owners:
  channel: {channel}
  allowed_domains: [contoso.com]
"""


def run_failed(notify: str, run_id: str):
    ev = copy.deepcopy(load_fixture("aml-runstatuschanged-failed.eventgrid.json"))
    ev[0]["id"] = f"evt-{run_id}"
    ev[0]["data"]["runId"] = run_id
    ev[0]["subject"] = ev[0]["subject"].rsplit("/", 1)[0] + f"/{run_id}"
    ev[0]["data"]["runTags"] = {"notify": notify}
    [event] = parse_payload(ev).events
    return event


@pytest.fixture
def make_app(tmp_path, smtp_server, identity, httpserver, tls_session, monkeypatch):
    """An App on the config above with `channel` for the QA role and the owners."""
    monkeypatch.setenv("TEST_GRAPH_SECRET", CLIENT_SECRET)
    httpserver.expect_request(SEND_PATH, method="POST").respond_with_data("", status=202)

    def make(channel: str, qa: str):
        server = smtp_server()
        text = CONFIG.format(smtp_port=server.port, sender=SENDER, tenant=TENANT, client_id=CLIENT_ID,
                             authority=identity.authority_host, graph=httpserver.url_for("/v1.0"), channel=channel)
        loaded = loads(text, str(tmp_path / "routing.yaml"), env={"TEST_GRAPH_SECRET": CLIENT_SECRET,
                                                                   "QA_EMAIL_TO": qa})
        app = App(loaded, tmp_path / "data")
        # the same channels, with a session that trusts the test identity server's certificate
        app.channels = build_channels(loaded, tmp_path / "data", session=tls_session)
        return app, server

    return make


def deliver(app: App, tags: list[str]) -> None:
    app.ingest([run_failed(tag, f"run-{i}") for i, tag in enumerate(tags)])
    dispatcher = dispatcher_for(app, workers=1)
    while dispatcher.run_once():
        pass
    dispatcher.stop()


def owner_notifications(app: App) -> dict[str, str]:
    return {n.role: n.status for n in app.store.list() if n.role.startswith("owner:")}


def test_smtp_sees_only_the_checked_allowed_owners(make_app):
    app, server = make_app("smtp", qa="qa@contoso.com")
    deliver(app, HOSTILE)
    rcpts = [set(e.rcpt_tos) for e in server.inbox.envelopes]
    seen = set().union(*rcpts)
    assert seen - {"qa@contoso.com"} == ALLOWED  # ana, bob and zoe each from their own clean item only
    assert owner_notifications(app) == {f"owner:{a}": "sent" for a in ALLOWED}
    for envelope in server.inbox.envelopes:
        m = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        to = [a.addr_spec for a in m["To"].addresses]
        assert to == envelope.rcpt_tos  # the header is the envelope: one checked address
        assert "Cc" not in m and "Bcc" not in m
        assert "evil" not in m["To"] and "(" not in m["To"]


def test_graph_sees_only_the_checked_allowed_owners(make_app, httpserver):
    app, server = make_app("graph", qa="qa@contoso.com")
    deliver(app, HOSTILE)
    bodies = [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == SEND_PATH]
    to = [[r["emailAddress"]["address"] for r in b["message"]["toRecipients"]] for b in bodies]
    assert all(b["message"]["ccRecipients"] == [] for b in bodies)
    assert to.count(["qa@contoso.com"]) == len(HOSTILE)  # the QA role, once per run
    owners = sorted(group[0] for group in to if group != ["qa@contoso.com"])
    assert owners == sorted(ALLOWED)
    assert all(len(group) == 1 for group in to)
    assert owner_notifications(app) == {f"owner:{a}": "sent" for a in ALLOWED}
    assert server.inbox.envelopes == []


@pytest.mark.parametrize("channel", ["smtp", "graph"])
def test_a_bad_address_in_an_env_value_is_left_out_and_logged_without_it(make_app, httpserver, channel, caplog):
    app, server = make_app(channel, qa='qa@contoso.com, evil@evil.example(@contoso.com; "Lead" <lead@contoso.com>')
    with caplog.at_level(logging.WARNING):
        deliver(app, ["nobody-in-particular"])
    if channel == "smtp":
        assert [e.rcpt_tos for e in server.inbox.envelopes] == [["qa@contoso.com"]]
    else:
        [body] = [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == SEND_PATH]
        assert body["message"]["toRecipients"] == [{"emailAddress": {"address": "qa@contoso.com"}}]
    label = "smtp smtp" if channel == "smtp" else "email graph"
    assert [r.getMessage() for r in caplog.records if r.name == "alertrouter.channels.mail"] == [
        f"{label}: roles.qa.recipients.to[0] (from ${{QA_EMAIL_TO}}): a value has a comment in parentheses; "
        "not sending to it (write one bare address like name@contoso.com)",
        f"{label}: roles.qa.recipients.to[0] (from ${{QA_EMAIL_TO}}): a value has a display name or angle "
        "brackets; not sending to it (write one bare address like name@contoso.com)",
    ]
    assert "evil.example" not in caplog.text and "Lead" not in caplog.text


@pytest.mark.parametrize("channel", ["smtp", "graph"])
def test_an_owner_notification_stored_before_the_rules_tightened_is_refused(make_app, httpserver, channel, caplog):
    """What the router made of the reported tag before: its role holds the unchecked string. The
    channel checks an owner's address again and sends nothing."""
    app, server = make_app(channel, qa="qa@contoso.com")
    event = run_failed(EVIL, "run-old")
    target = Target("run-owners", "owner:evil@evil.example(@contoso.com", channel)
    with caplog.at_level(logging.WARNING):
        result = app.channels[channel].send(app.render(event, target, app.channels[channel]))
    assert result.status == "failed" and "no recipients" in result.detail
    assert server.inbox.envelopes == []
    assert [req for req, _ in httpserver.log if req.path == SEND_PATH] == []
    assert "a run owner's address has a comment in parentheses; not sending to it" in caplog.text
