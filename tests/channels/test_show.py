"""What QA may see (issue 20, item 13): a restricted role's `show:` names the run tags and
properties it sees, on its Teams card (posted to a loopback receiver) and in its email (received by
aiosmtpd), and nothing else of the tags and properties, no links and no code; routing.yaml's `show:`
is checked with file:line."""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.email_smtp import SmtpChannel, SmtpMailSender
from alertrouter.channels.teams import TeamsChannel, TeamsSender
from alertrouter.channels.transport import make_session
from alertrouter.config.load import load, loads
from alertrouter.config.types import Target
from alertrouter.delivery.notification import render_notification
from alertrouter.errors import ConfigError
from alertrouter.inbound import parse_payload
from alertrouter.model import Event
from alertrouter.rendering.renderer import Renderer
from tests.conftest import ROOT, load_fixture

CONFIG = """version: 1
roles:
  quality-assurance:
    channels: [log]
    visibility: restricted
    show: [accuracy, test_dataset, missing_metric]
  qa-without-show:
    channels: [log]
    visibility: restricted
  data-scientist:
    channels: [log]
routes:
  - name: experiment-lifecycle
    match: {kind: run.completed}
    roles: [quality-assurance, qa-without-show, data-scientist]
"""

TAGS = {"accuracy": "0.931", "owner": "ana@contoso.com", "mlflow.source.git.commit": "3f9c2e1d0b7a"}
PROPERTIES = {"test_dataset": "golden-set-v3", "azureml.git.repository_uri": "https://dev.azure.com/contoso/churn",
              "scoring_script": "score_entry_v2.py"}
HIDDEN = ["ana@contoso.com", "3f9c2e1d0b7a", "dev.azure.com", "score_entry_v2.py", "owner", "mlflow.source",
          "azureml.git", "scoring_script", "ml.azure.com", "LassoLars", "pipeline_spec", "aml://", "href="]


def run_completed() -> Event:
    payload = load_fixture("aml-runcompleted.eventgrid.json")
    payload[0]["data"]["runTags"] = TAGS
    payload[0]["data"]["runProperties"].update(PROPERTIES)
    [event] = parse_payload(payload).events
    return event


def render(channel, role: str):
    loaded = loads(CONFIG, env={})
    msg = render_notification(loaded, Renderer(strict=True), None, run_completed(),
                              Target("experiment-lifecycle", role, channel.name), channel)
    assert msg.template_errors == {}
    return msg


def card(role: str, httpserver, tmp_path) -> dict:
    httpserver.expect_request("/qa", method="POST").respond_with_data("", status=202)
    channel = TeamsSender("qa-teams", TeamsChannel(type="teams", url=httpserver.url_for("/qa")),
                          ChannelContext(session=make_session(), data_dir=tmp_path))
    assert channel.send(render(channel, role)).status == "delivered"
    [(request, _)] = httpserver.log
    return json.loads(request.get_data())


def section(message: dict, heading: str) -> list[tuple[str, str]]:
    body = message["attachments"][0]["content"]["body"]
    for i, block in enumerate(body):
        if block["type"] == "TextBlock" and block["text"] == heading:
            return [(f["title"], f["value"]) for f in body[i + 1]["facts"]]
    return []


def mail(role: str, smtp_server, tmp_path) -> tuple[str, str, str]:
    server = smtp_server()
    channel = SmtpMailSender("qa-mail", SmtpChannel(type="smtp", host="127.0.0.1", port=server.port, starttls=False,
                                                    sender="alerts@contoso.com", to=["qa@contoso.com"],
                                                    timeout_seconds=5), ChannelContext(None, tmp_path))
    assert channel.send(render(channel, role)).status == "delivered"
    [envelope] = server.inbox.envelopes
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    text, html = (p.get_content().replace("\r\n", "\n") for p in message.iter_parts())
    return text, html, envelope.original_content.decode()


def test_the_card_shows_exactly_the_named_tags_and_properties(httpserver, tmp_path):
    message = card("quality-assurance", httpserver, tmp_path)
    assert section(message, "Tags and properties") == [("accuracy", "0.931"), ("test_dataset", "golden-set-v3")]
    body = json.dumps(message, ensure_ascii=False)
    assert [h for h in HIDDEN if h in body] == []
    assert "actions" not in message["attachments"][0]["content"]  # no studio link
    facts = {t for b in message["attachments"][0]["content"]["body"] if b["type"] == "FactSet" for t, _ in
             [(f["title"], f["value"]) for f in b["facts"]]}
    assert {"Workspace", "Experiment", "Run status", "accuracy"} <= facts and "Run" not in facts


def test_the_email_shows_exactly_the_named_tags_and_properties(smtp_server, tmp_path):
    text, html, raw = mail("quality-assurance", smtp_server, tmp_path)
    assert "\nTags and properties:\n  accuracy: 0.931\n  test_dataset: golden-set-v3\n" in text
    assert ">accuracy</td>" in html and ">0.931</td>" in html and ">golden-set-v3</td>" in html
    assert "missing_metric" not in text + html
    assert [h for h in HIDDEN if h in text or h in html or h in raw] == []


def test_a_restricted_role_without_show_sees_no_tag_or_property(httpserver, smtp_server, tmp_path):
    message = card("qa-without-show", httpserver, tmp_path)
    assert section(message, "Tags and properties") == []
    assert "0.931" not in json.dumps(message) and "golden-set-v3" not in json.dumps(message)
    text, html, _ = mail("qa-without-show", smtp_server, tmp_path)
    assert "0.931" not in text + html and "golden-set-v3" not in text + html


def test_a_full_role_is_unchanged_by_show(httpserver, tmp_path):
    message = card("data-scientist", httpserver, tmp_path)
    assert section(message, "Tags and properties") == []  # it has the run's details already
    assert "score_entry_v2.py" in json.dumps(message)


def test_a_tag_wins_over_a_property_of_the_same_name_and_show_keeps_its_order():
    from alertrouter.rendering.visible import shown

    event = run_completed().model_copy(update={"details": {"property.accuracy": "0.5",
                                                           "property.test_dataset": "golden-set-v3"}})
    assert shown(event, ["test_dataset", "accuracy", "accuracy"]) == {"test_dataset": "golden-set-v3",
                                                                      "accuracy": "0.931"}


# --- routing.yaml ------------------------------------------------------------------------------

ROLE = """version: 1
roles:
  qa:
    channels: [log]
    visibility: {visibility}
    show: {show}
"""


@pytest.mark.parametrize("visibility,show,problem", [
    ("restricted", "accuracy",
     'routing.yaml:6 roles.qa.show: expected a list like [a, b], got "accuracy"'),
    ("restricted", "[accuracy, '']",
     'routing.yaml:6 roles.qa.show[1]: an empty name; write the run tag or property to show, e.g. accuracy, got ""'),
    ("restricted", "[accuracy, '  ']",
     'routing.yaml:6 roles.qa.show[1]: an empty name; write the run tag or property to show, e.g. accuracy, '
     'got "  "'),
    ("full", "[accuracy]",
     "routing.yaml:6 roles.qa.show: show is for a role with visibility: restricted (this role sees every tag and "
     "property already); set visibility: restricted or remove show, got a list"),
])
def test_show_is_checked_with_file_and_line(visibility, show, problem):
    with pytest.raises(ConfigError) as info:
        loads(ROLE.format(visibility=visibility, show=show), "routing.yaml", env={})
    assert info.value.problems == [problem]


def test_shipped_qa_role_shows_the_model_accuracy_results():
    role = load(ROOT / "routing.yaml", env={}).config.roles["quality-assurance"]
    assert (role.visibility, role.show) == ("restricted", ["accuracy", "test_dataset"])
