"""Payload links (issue 16, item 5): a Markdown link in an alert rule's name or description is
text in the Teams card (QA's restricted card too); a javascript: URL in `investigationLink` is no
button, no href, no PagerDuty or webhook link; only https links are sent (http when the config's
`links.allow_http` says so, or to a loopback host)."""

from __future__ import annotations

import copy
import json

import pytest

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.transport import make_session
from alertrouter.channels.pagerduty import PagerDutySender
from alertrouter.channels.teams import TeamsSender
from alertrouter.channels.webhook import WebhookSender
from alertrouter.config.load import loads
from alertrouter.channels.pagerduty import PagerDutyChannel
from alertrouter.channels.teams import TeamsChannel
from alertrouter.channels.webhook import WebhookChannel
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer
from alertrouter.rendering.safety import link_allowed, md_escape
from tests.conftest import load_fixture
from tests.hostile import card_texts, card_urls, html_leaks, markdown_leaks

PATH = "/workflows/abc/triggers/manual/paths/invoke"
RULE = "[Reset your password](https://evil.example/login)"
DESCRIPTION = "Urgent: sign in at https://evil.example/sso or [here](javascript:alert(1)) **now**"


def hostile_alert(link: str = "javascript:alert(document.cookie)"):
    raw = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    e = raw["data"]["essentials"]
    e["alertRule"], e["description"], e["investigationLink"] = RULE, DESCRIPTION, link
    [ev] = parse_payload(raw).events
    assert ev.links["Investigate"] == link  # the adapter took it as a link: the renderer must refuse it
    return ev


def render(ev, kind: str, parts, visibility: str = "full", renderer: Renderer | None = None):
    return (renderer or Renderer(strict=True)).render(ev, route="r", role="qa", channel=kind, channel_kind=kind,
                                                      parts=parts, visibility=visibility)


@pytest.mark.parametrize("visibility", ["full", "restricted"])
def test_a_markdown_link_in_the_rule_name_is_text_in_the_posted_teams_card(visibility, httpserver, tmp_path):
    httpserver.expect_request(PATH, method="POST").respond_with_data("", status=202)
    sender = TeamsSender("qa-teams", TeamsChannel(type="teams", url=httpserver.url_for(f"{PATH}?sig=s")),
                         ChannelContext(session=make_session(), data_dir=tmp_path))
    msg = render(hostile_alert(), "teams", TeamsSender.parts, visibility)
    assert sender.send(msg).status == "delivered"
    [req, _] = httpserver.log[-1]
    card = json.loads(req.get_data())["attachments"][0]["content"]
    texts = card_texts(card)
    assert [p for t in texts for p in markdown_leaks(t)] == []
    assert any(r"\[Reset your password\]" in t for t in texts)  # shown, as text
    urls = card_urls(card)
    assert all(u.startswith("https://portal.azure.com/") for u in urls)
    assert (urls != []) == (visibility == "full")


def test_a_javascript_investigation_link_is_no_button_href_or_link_field():
    ev = hostile_alert()
    ctx = ChannelContext(session=make_session(), data_dir=".")
    teams = TeamsSender("t", TeamsChannel(type="teams", url="https://127.0.0.1:9/x"), ctx)
    pd = PagerDutySender("p", PagerDutyChannel(type="pagerduty", routing_key="k" * 32), ctx)
    hook = WebhookSender("w", WebhookChannel(type="webhook", url="https://127.0.0.1:9/h"), ctx)
    card = teams.build(render(ev, "teams", teams.parts))["attachments"][0]["content"]
    assert [a["title"] for a in card["actions"]] == ["Alert in Azure portal"]
    page = pd.build(render(ev, "pagerduty", pd.parts))
    assert [link["href"] for link in page["links"]] == [page["client_url"]] == [ev.links["Alert in Azure portal"]]
    body = hook.build(render(ev, "webhook", hook.parts))
    assert list(body["data"]["links"]) == ["Alert in Azure portal"]
    mail = render(ev, "email", ("subject", "text", "html"))
    assert html_leaks(mail.parts["html"]) == []  # every href is https
    assert "Investigate" not in mail.parts["html"] and "Investigate" not in mail.parts["text"]
    assert "Alert in Azure portal" in mail.parts["html"]


def test_http_links_only_where_the_config_allows_them():
    ev = hostile_alert("http://grafana.internal/d/abc")
    assert "Investigate" not in render(ev, "webhook", ("text",)).view["links"]
    allowed = render(ev, "webhook", ("text",), renderer=Renderer(strict=True, allow_http=True))
    assert allowed.view["links"]["Investigate"] == "http://grafana.internal/d/abc"
    assert "http://grafana.internal/d/abc" in render(ev, "email", ("html",),
                                                     renderer=Renderer(strict=True, allow_http=True)).parts["html"]
    # javascript: stays out whatever the config says
    js = hostile_alert()
    assert "Investigate" not in render(js, "webhook", ("text",), renderer=Renderer(allow_http=True)).view["links"]


def test_the_config_option():
    base = "version: 1\nroles: {a: {channels: [log]}}\n"
    assert loads(base).config.links.allow_http is False
    assert loads(base + "links: {allow_http: true}\n").config.links.allow_http is True


@pytest.mark.parametrize("url,ok", [
    ("https://portal.azure.com/#view/x", True),
    ("HTTPS://ml.azure.com/runs/1?wsid=/subscriptions/%7Bs%7D", True),
    ("https://portal.azure.com#@tenant/blade/x", True),
    ("http://127.0.0.1:7071/api/ack?t=1", True),  # the local server's acknowledge link
    ("http://localhost:7071/api/ack", True),
    ("http://[::1]:7071/x", True),
    ("http://evil.example/", False),
    ("javascript:alert(1)", False),
    (" javascript:alert(1)", False),
    ("jav\tascript:alert(1)", False),
    ("data:text/html,<script>alert(1)</script>", False),
    ("vbscript:msgbox(1)", False),
    ("//evil.example/x", False),
    ("https:evil.example", False),
    ("https:/\\evil.example", False),
    ("https://user:pw@evil.example/", False),
    ("https://evil.example:port/", False),
    ("https://good.example/\u202eexe", False),
    ("https://good.example/a b", False),
    ("", False),
])
def test_link_rule(url, ok):
    assert link_allowed(url) is ok


def test_markdown_escaping_keeps_text_readable():
    assert md_escape("AutoML_ad912_5 run 7.727 (Total) {ws}") == "AutoML_ad912_5 run 7.727 (Total) {ws}"
    assert md_escape(RULE) == r"\[Reset your password\](https\[:\]//evil.example/login)"
    assert md_escape("**b** _i_ `c` ~s~ <at>x</at>") == r"\*\*b\*\* \_i\_ \`c\` \~s\~ \<at\>x\</at\>"
    assert md_escape("- a\n1. b\n# c\nwww.evil.example") == "\\- a\n1\\. b\n\\# c\nwww\\[.\\]evil.example"


def test_a_teams_part_that_fell_back_to_the_plain_rendering_is_escaped_too(tmp_path):
    (tmp_path / "teams").mkdir()
    (tmp_path / "teams" / "alert.title.j2").write_text("{{ no_such_field.attr }}", encoding="utf-8")
    (tmp_path / "teams" / "alert.text.j2").write_text("{{ 1 / 0 }}", encoding="utf-8")
    ev = hostile_alert()
    msg = Renderer(strict=True).render(ev, route="r", role="qa", channel="t", channel_kind="teams",
                                       parts=TeamsSender.parts, template_dirs=[str(tmp_path)])
    assert set(msg.template_errors) == {"title", "text"}
    teams = TeamsSender("t", TeamsChannel(type="teams", url="https://127.0.0.1:9/x"),
                        ChannelContext(session=make_session(), data_dir=tmp_path))
    texts = card_texts(teams.build(msg)["attachments"][0]["content"])
    assert [p for t in texts for p in markdown_leaks(t)] == []
    assert any(r"\[Reset your password\]" in t for t in texts)


def test_the_option_reaches_the_app_and_the_preview(tmp_path):
    """`links.allow_http` in routing.yaml is what the running app and `alertrouter render` use."""
    from alertrouter.app import App
    from alertrouter.delivery.preview import previews

    text = "version: 1\nroles: {a: {channels: [log]}}\nroutes: [{name: all, match: {}, roles: [a]}]\n"
    ev = hostile_alert("http://grafana.internal/d/abc")
    for config, sent in ((text, False), (text + "links: {allow_http: true}\n", True)):
        loaded = loads(config)
        app = App(loaded, tmp_path / str(sent))
        rendered = app.renderer.render(ev, route="all", role="a", channel="log", channel_kind="log", parts=("text",))
        assert ("Investigate" in rendered.view["links"]) is sent
        [shown] = previews(loaded, [ev], "log", "a")
        assert ("http://grafana.internal/d/abc" in json.dumps(shown.__dict__, default=str)) is sent
