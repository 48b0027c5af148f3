"""Warnings for what a valid routing.yaml still lacks: email recipients that resolve to nobody (and
the log channel those notices then go to, through the router, the outbox and the dispatcher), and
channel secrets too short to be real or to mask safely."""

from __future__ import annotations

import json
import time

from alertrouter.app import App
from alertrouter.build import dispatcher_for
from alertrouter.config.load import loads
from alertrouter.routing.router import Router
from tests.conftest import distinct_alerts, free_port

MAIL = """channels:
  mail:
    type: smtp
    host: 127.0.0.1
    port: PORT
    sender: alerts@contoso.com
    starttls: false
roles:
  qa:
    channels: [mail]
    recipients:
      to: ["${QA_EMAIL_TO}"]
routes:
  - {name: all, match: {}, roles: [qa]}
"""


def mail_config(env: dict, text: str = MAIL):
    return loads(text.replace("PORT", str(free_port())), "routing.yaml", env=env)


def test_recipients_that_resolve_to_nobody_are_a_warning_naming_role_key_line_and_variable():
    loaded = mail_config({})
    assert loaded.warnings == [
        "routing.yaml:12 roles.qa.recipients.to: environment variable QA_EMAIL_TO is not set, so the role's "
        'recipients resolve to nobody; its email through "mail" goes to the log channel until it is set'
    ]
    assert loaded.unaddressed == {("qa", "mail"): ["QA_EMAIL_TO"]}
    assert mail_config({"QA_EMAIL_TO": "qa@contoso.com"}).warnings == []


def test_a_variable_holding_no_valid_address_is_named_too():
    loaded = mail_config({"QA_EMAIL_TO": "not an address"})
    assert loaded.warnings == [
        "routing.yaml:12 roles.qa.recipients.to: environment variable QA_EMAIL_TO holds no valid address, so the "
        'role\'s recipients resolve to nobody; its email through "mail" goes to the log channel until it is set'
    ]


def test_one_unset_variable_among_several_recipients_is_a_warning_without_fallback():
    loaded = mail_config({"QA_EMAIL_TO": "qa@contoso.com"},
                         MAIL.replace('to: ["${QA_EMAIL_TO}"]', 'to: ["${QA_EMAIL_TO}", "${QA_LEAD}"]'))
    assert loaded.warnings == [
        "routing.yaml:12 roles.qa.recipients.to: environment variable QA_LEAD is not set; the role's email "
        "reaches only the other recipients until it is"
    ]
    assert loaded.unaddressed == {}


def test_the_channels_own_recipients_catch_an_empty_role_list():
    loaded = mail_config({}, MAIL.replace("    starttls: false\n", "    starttls: false\n    to: [ops@contoso.com]\n"))
    assert loaded.warnings == [
        "routing.yaml:13 roles.qa.recipients.to: environment variable QA_EMAIL_TO is not set, so the role's "
        'recipients resolve to nobody; its email through "mail" goes to the channel\'s own recipients '
        "(channels.mail.to) until it is set"
    ]
    assert loaded.unaddressed == {}


def test_a_role_with_no_recipients_anywhere_is_a_warning_and_goes_to_log():
    loaded = mail_config({}, MAIL.replace('    recipients:\n      to: ["${QA_EMAIL_TO}"]\n', ""))
    assert loaded.warnings == [
        'routing.yaml:9 roles.qa: no email recipients for channel "mail": set recipients.to on the role (or to on '
        "the channel); until then its email goes to the log channel"
    ]
    assert loaded.unaddressed == {("qa", "mail"): []}


def test_the_router_sends_that_roles_email_to_the_log_channel():
    [event] = distinct_alerts(1)
    d = Router(mail_config({})).route(event)
    assert [(t.role, t.channel, t.fallback_from) for t in d.targets] == [("qa", "log", "mail")]
    d = Router(mail_config({"QA_EMAIL_TO": "qa@contoso.com"})).route(event)
    assert [(t.role, t.channel, t.fallback_from) for t in d.targets] == [("qa", "mail", "")]


def test_the_outbox_and_the_log_show_the_fallback(tmp_path):
    """Taken in, stored for the log channel instead of `mail`, sent there; the attempt says why."""
    app = App(mail_config({}), tmp_path / "data")
    app.ingest(distinct_alerts(1))
    [n] = app.store.list("pending")
    assert (n.role, n.channel, n.fallback_from) == ("qa", "log", "mail")
    dispatcher = dispatcher_for(app, workers=1)
    deadline = time.monotonic() + 10
    while app.store.counts()["pending"] and time.monotonic() < deadline:
        dispatcher.run_once()
    [sent] = app.store.list("sent")
    assert sent.id == n.id
    [attempt] = app.store.history(n.id)
    assert attempt.status == "delivered"
    assert attempt.detail.endswith("(instead of mail: its environment variables are not set)")
    logged = [json.loads(line) for line in (tmp_path / "data" / "notifications.jsonl").read_text().splitlines()]
    assert [(r["role"], r["channel"]) for r in logged] == [("qa", "log")]


SECRETS = """channels:
  hook:
    type: webhook
    url: ${HOOK_URL}
    headers: {X-Api-Key: "${HOOK_KEY}"}
  pd:
    type: pagerduty
    routing_key: ${PD_KEY}
  literal:
    type: pagerduty
    routing_key: abc
  teams:
    type: teams
    url: ${TEAMS_URL}
roles:
  se: {channels: [hook, pd, literal, teams]}
"""

LONG = {"HOOK_URL": "https://hooks.example.org/in/4f9c2a7e", "HOOK_KEY": "k-8c1d2f3a9b7e",
        "PD_KEY": "R0123456789abcdef0123456789abcdef",
        "TEAMS_URL": "https://prod.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=Zx81kLq0pA"}


def test_secrets_shorter_than_8_characters_are_warned_about_never_shown():
    env = {**LONG, "HOOK_KEY": "k1", "PD_KEY": "1234567",
           "TEAMS_URL": "https://prod.westeurope.logic.azure.com/workflows/1/triggers/manual/paths/invoke?sig=s"}
    loaded = loads(SECRETS, "routing.yaml", env=env)
    advice = ("shorter than 8 characters; that looks like a placeholder, and masking it would hide the same text "
              "wherever it appears in previews, the console and kept answers: set the real secret")
    assert loaded.warnings == [
        f"routing.yaml:5 channels.hook.headers.X-Api-Key: a secret from ${{HOOK_KEY}} is {advice}",
        f"routing.yaml:8 channels.pd.routing_key: a secret from ${{PD_KEY}} is {advice}",
        f"routing.yaml:11 channels.literal.routing_key: a secret is {advice}",
        f"routing.yaml:14 channels.teams.url: a secret from ${{TEAMS_URL}} is {advice}",
    ]
    text = "\n".join(loaded.warnings)
    assert "k1" not in text and "1234567" not in text and "sig=s" not in text


def test_secrets_of_8_characters_or_more_pass():
    loaded = loads(SECRETS.replace("routing_key: abc", "routing_key: ${PD_KEY}"), "routing.yaml",
                   env={**LONG, "HOOK_KEY": "12345678"})
    assert loaded.warnings == []


HOOK = """channels:
  hook:
    type: webhook
    url: "${HOOK_URL}"
    signing_secret: "${HOOK_SECRET}"
roles:
  se: {channels: [hook]}
routes:
  - {name: all, match: {}, roles: [se]}
"""


def test_a_secret_the_sender_refuses_is_a_problem_check_reports_not_a_start_that_fails(tmp_path):
    """`check` builds each resolved channel's sender as the router does: a signing secret that is
    not `whsec_<base64>` used to pass `check` and then stop `serve` (and replay) from starting."""
    from alertrouter.config.load import review, ConfigError
    import pytest
    secret = "plain-not-whsec-1234"
    env = {"HOOK_URL": "https://hooks.example.com/in", "HOOK_SECRET": secret}
    review_ = review(HOOK, "routing.yaml", env)
    assert review_.loaded is None
    assert review_.problems == [
        "routing.yaml:2 channels.hook: webhook hook: signing_secret must look like whsec_<base64> (Standard Webhooks "
        "format); the router refuses to start with this channel as the environment sets it: fix the value (or its "
        "environment variable)"]
    assert secret not in " ".join(review_.problems)
    with pytest.raises(ConfigError):
        loads(HOOK, "routing.yaml", env=env)
    good = {**env, "HOOK_SECRET": "whsec_" + "QUJD" * 8}
    assert review(HOOK, "routing.yaml", good).problems == []
    unset = review(HOOK, "routing.yaml", {"HOOK_URL": "https://hooks.example.com/in"})
    assert unset.problems == [] and unset.loaded is not None  # unset: a warning and the log channel, as before
