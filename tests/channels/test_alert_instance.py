"""Which instance fired, as each channel sends it (issue 20, item 11): an alert's dimensions
(`ApiName=GetBlob`) and custom properties on the Teams card, in the email's HTML and text, in
PagerDuty's custom_details and the webhook's data, posted to loopback receivers (aiosmtpd for the
mail); a huge dimension list cut to each channel's budget with "+N more"; hostile text in a
dimension escaped; none of it for a restricted role."""

from __future__ import annotations

import email
import email.policy
import json

import pytest

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.email_smtp import SmtpChannel, SmtpMailSender
from alertrouter.channels.pagerduty import NAMED_MAX, PagerDutyChannel, PagerDutySender
from alertrouter.channels.teams import MAX_BYTES, TeamsChannel, TeamsSender
from alertrouter.channels.transport import make_session
from alertrouter.channels.webhook import WebhookChannel, WebhookSender
from alertrouter.inbound import parse_payload
from alertrouter.model import Event
from alertrouter.rendering.renderer import Renderer
from tests.conftest import load_fixture
from tests.hostile import card_texts, html_leaks, markdown_leaks

METRIC = "monitor-metric-static-fired.test-action.json"
PATH = "/in"


def metric_event(dimensions: list[dict] | None = None, custom: dict | None = None) -> Event:
    payload = load_fixture(METRIC)
    if dimensions is not None:
        payload["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = dimensions
    if custom is not None:
        payload["data"]["customProperties"] = custom
        payload["data"]["alertContext"]["properties"] = custom
    [event] = parse_payload(payload).events
    return event


def render(channel, event: Event, visibility: str = "full"):
    msg = Renderer(strict=True).render(event, notification_id="n_instance", route="platform-alerts",
                                       role="software-engineer", channel=channel.name,
                                       channel_kind=channel.template_kind, parts=channel.parts,
                                       visibility=visibility)
    assert msg.template_errors == {}
    return msg


def ctx(tmp_path) -> ChannelContext:
    return ChannelContext(session=make_session(), data_dir=tmp_path)


@pytest.fixture
def receiver(httpserver):
    httpserver.expect_request(PATH, method="POST").respond_with_data("", status=202)
    return httpserver


def sent(kind: str, event: Event, receiver, tmp_path, visibility: str = "full") -> dict:
    """What a channel of `kind` posted to the loopback receiver for `event`."""
    url = receiver.url_for(PATH)
    channel = {
        "teams": lambda: TeamsSender("se-teams", TeamsChannel(type="teams", url=url), ctx(tmp_path)),
        "pagerduty": lambda: PagerDutySender("pager", PagerDutyChannel(type="pagerduty", routing_key="k" * 32,
                                                                       url=url), ctx(tmp_path)),
        "webhook": lambda: WebhookSender("ops", WebhookChannel(type="webhook", url=url), ctx(tmp_path)),
    }[kind]()
    receiver.clear_log()
    assert channel.send(render(channel, event, visibility)).status == "delivered"
    [(request, _)] = receiver.log
    return json.loads(request.get_data())


def card_section(message: dict, heading: str) -> tuple[list[tuple[str, str]], str]:
    """The facts under a card's `heading` TextBlock, and the "+N more" line after them ("" if none)."""
    body = message["attachments"][0]["content"]["body"]
    for i, block in enumerate(body):
        if block["type"] == "TextBlock" and block["text"] == heading:
            facts = [(f["title"], f["value"]) for f in body[i + 1]["facts"]]
            after = body[i + 2] if i + 2 < len(body) else {}
            more = after.get("text", "") if after.get("type") == "TextBlock" else ""
            more = more if more.startswith("+") else ""
            return facts, more
    return [], ""


def mail(event: Event, smtp_server, tmp_path, visibility: str = "full") -> tuple[str, str]:
    """(text, html) of the mail a real SMTP server received for `event`."""
    server = smtp_server()
    channel = SmtpMailSender("mail", SmtpChannel(type="smtp", host="127.0.0.1", port=server.port, starttls=False,
                                                 sender="alerts@contoso.com", to=["se@contoso.com"],
                                                 timeout_seconds=5), ChannelContext(None, tmp_path))
    assert channel.send(render(channel, event, visibility)).status == "delivered"
    [envelope] = server.inbox.envelopes
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    text, html = (p.get_content().replace("\r\n", "\n") for p in message.iter_parts())
    return text, html


# --- the fixture as Azure sends it -------------------------------------------------------------


def test_teams_card_shows_the_dimensions_and_the_custom_properties(receiver, tmp_path):
    message = sent("teams", metric_event(), receiver, tmp_path)
    assert card_section(message, "Dimensions") == ([("ApiName", "GetBlob")], "")
    assert card_section(message, "Custom properties") == ([("customKey1", "value1"), ("customKey2", "value2")], "")


def test_email_shows_the_dimensions_and_the_custom_properties(smtp_server, tmp_path):
    text, html = mail(metric_event(), smtp_server, tmp_path)
    assert "\nDimensions:\n  ApiName: GetBlob\n" in text
    assert "\nCustom properties:\n  customKey1: value1\n  customKey2: value2\n" in text
    assert ">Dimensions</div>" in html and ">Custom properties</div>" in html
    for name, value in (("ApiName", "GetBlob"), ("customKey1", "value1"), ("customKey2", "value2")):
        assert f">{name}</td>" in html and f">{value}</td>" in html


def test_pagerduty_custom_details_hold_the_dimensions_and_the_custom_properties(receiver, tmp_path):
    details = sent("pagerduty", metric_event(), receiver, tmp_path)["payload"]["custom_details"]
    assert details["dimensions"] == {"ApiName": "GetBlob"}
    assert details["custom_properties"] == {"customKey1": "value1", "customKey2": "value2"}
    assert not [k for k in details if k.startswith(("dimension.", "custom."))]  # once, not twice


def test_webhook_data_holds_the_dimensions_and_the_custom_properties(receiver, tmp_path):
    data = sent("webhook", metric_event(), receiver, tmp_path)["data"]
    assert data["dimensions"] == {"ApiName": "GetBlob"}
    assert data["custom_properties"] == {"customKey1": "value1", "customKey2": "value2"}


# --- a huge dimension list ---------------------------------------------------------------------

HUGE = [{"name": f"Instance{i:04}", "value": f"vm-{i:04}-" + "x" * 180} for i in range(1500)]


def test_a_huge_dimension_list_stays_within_the_teams_budget_with_a_more_line(receiver, tmp_path):
    message = sent("teams", metric_event(HUGE), receiver, tmp_path)
    size = len(json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode())
    assert size <= MAX_BYTES
    facts, more = card_section(message, "Dimensions")
    assert 3 <= len(facts) < len(HUGE)
    assert [t for t, _ in facts] == [d["name"] for d in HUGE[: len(facts)]]  # the first ones, in order
    assert more == f"+{len(HUGE) - len(facts)} more"
    assert card_section(message, "Custom properties")[0]  # the rule's own properties still fit


def test_a_huge_dimension_list_in_email_and_pagerduty_is_cut_with_a_more_line(smtp_server, receiver, tmp_path):
    event = metric_event(HUGE)
    text, html = mail(event, smtp_server, tmp_path)
    assert "  Instance0024: vm-0024-" in text and "Instance0025" not in text
    assert f"  +{len(HUGE) - 25} more\n" in text and f">+{len(HUGE) - 25} more</td>" in html
    details = sent("pagerduty", event, receiver, tmp_path)["payload"]["custom_details"]["dimensions"]
    assert len(details) == NAMED_MAX + 1
    assert details["…"] == f"+{len(HUGE) - NAMED_MAX} more"


# --- hostile text, and who may see it ----------------------------------------------------------

HOSTILE = [{"name": "Api<b>Name</b>", "value": '<img src=x onerror="alert(1)"> [open](javascript:alert(1))'},
           {"name": "Computer", "value": "**vm-7** see https://evil.example/x"}]


def test_hostile_dimension_text_is_escaped_on_the_card_and_in_the_email(receiver, smtp_server, tmp_path):
    event = metric_event(HOSTILE, custom={"owner": "<script>steal()</script>"})
    message = sent("teams", event, receiver, tmp_path)
    texts = card_texts(message["attachments"][0]["content"])
    assert [leak for t in texts for leak in markdown_leaks(t)] == []
    facts, _ = card_section(message, "Dimensions")
    assert [t for t, _ in facts] == ["Api\\<b\\>Name\\</b\\>", "Computer"]
    assert facts[1][1] == "\\*\\*vm-7\\*\\* see https\\[:\\]//evil.example/x"
    text, html = mail(event, smtp_server, tmp_path)
    assert html_leaks(html) == []
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html and "&lt;script&gt;steal()&lt;/script&gt;" in html
    assert "Api&lt;b&gt;Name&lt;/b&gt;" in html
    assert '<img src=x onerror="alert(1)"> [open](javascript:alert(1))' in text  # text stays text


def test_a_restricted_role_gets_no_dimensions_or_custom_properties(receiver, smtp_server, tmp_path):
    event = metric_event(custom={"owner": "team-blue-secret"})
    message = sent("teams", event, receiver, tmp_path, visibility="restricted")
    body = json.dumps(message)
    assert card_section(message, "Dimensions") == ([], "") and "GetBlob" not in body
    assert "team-blue-secret" not in body
    text, html = mail(event, smtp_server, tmp_path, visibility="restricted")
    for part in (text, html):
        assert "GetBlob" not in part and "team-blue-secret" not in part and "Dimensions" not in part
    data = sent("webhook", event, receiver, tmp_path, visibility="restricted")["data"]
    assert (data["dimensions"], data["custom_properties"]) == ({}, {}) and "GetBlob" not in json.dumps(data)


# --- a storm from one rule: each member says which instance it is -------------------------------


def storm_notice(computers: list[str]) -> Event:
    """The group notice (pipeline.group.notice) of one rule firing on several computers, as its members'
    events were taken in."""
    from alertrouter.pipeline import group

    events = []
    for i, computer in enumerate(computers):
        payload = load_fixture(METRIC)
        payload["data"]["essentials"]["alertId"] += f"-{i}"
        payload["data"]["essentials"]["firedDateTime"] = f"2026-11-23T12:0{i}:00Z"
        payload["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"] = [
            {"name": "Computer", "value": computer}, {"name": "ApiName", "value": "GetBlob"}]
        [ev] = parse_payload(payload).events
        events.append(ev)
    members = {ev.fingerprint: {"title": ev.title, "severity": ev.severity.value, "time": ev.time.timestamp(),
                                "firing": True, "source": ev.source, "event_id": ev.id} for ev in events}
    doc = {"route": "platform-alerts", "labels": {"alert_rule": "test-metricAlertRule"}}
    by_id = {ev.id: ev for ev in events}
    return group.notice("k", doc, members, 1, events[-1].time.timestamp(), by_id.get)


def test_a_storm_notice_names_each_members_dimensions(receiver, tmp_path):
    notice = storm_notice(["vm-1", "vm-2", "vm-3"])
    message = sent("teams", notice, receiver, tmp_path)
    text = message["attachments"][0]["content"]["body"][2]["text"]
    lines = [line for line in text.split("\n") if line]
    assert [line.split(" · Fired at")[0].rsplit(" · ", 2)[1:] for line in lines] == [
        [f"Computer: vm-{i}", "ApiName: GetBlob"] for i in (1, 2, 3)]
    restricted = json.dumps(sent("teams", notice, receiver, tmp_path, visibility="restricted"))
    assert "vm-1" not in restricted and "GetBlob" not in restricted


def test_a_custom_property_that_holds_a_secret_is_not_sent(receiver, smtp_server, tmp_path):
    event = metric_event(custom={"apiKey": "k-LEAK-1", "runbook": "https://wiki.contoso.com/runbooks/storage",
                                 "callback": "https://hooks.example.org/x?code=c0de-LEAK-2",
                                 "note": "call with Bearer eyLEAK3.token.value"})
    message = sent("teams", event, receiver, tmp_path)
    facts = dict(card_section(message, "Custom properties")[0])
    assert facts["apiKey"] == "\\<redacted\\>"
    assert facts["runbook"] == "https\\[:\\]//wiki.contoso.com/runbooks/storage"  # kept: no secret in it
    text, html = mail(event, smtp_server, tmp_path)
    details = sent("pagerduty", event, receiver, tmp_path)["payload"]["custom_details"]
    assert details["custom_properties"]["callback"] == "https://hooks.example.org/x?code=<redacted>"
    for body in (json.dumps(message), text, html, json.dumps(details)):
        assert "k-LEAK-1" not in body and "LEAK-2" not in body and "eyLEAK3" not in body
    assert "  apiKey: <redacted>\n" in text and "  note: call with Bearer <redacted>\n" in text
