"""What people read (issue 20, item 12), on real fixtures through the real Renderer and channels: a
Teams card posted to a loopback receiver, a mail received by aiosmtpd. ISO windows as "5 min", the
rule's description set off from the condition, one time format in Teams and email, one duration
style, and the acknowledged card saying its sentence once."""

from __future__ import annotations

import copy
import email
import email.policy
from datetime import timedelta

import pytest

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.email_smtp import SmtpMailSender
from alertrouter.channels.transport import make_session
from alertrouter.channels.teams import TeamsSender
from alertrouter.channels.email_smtp import SmtpChannel
from alertrouter.channels.teams import TeamsChannel
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import duration_text
from tests.channels import METRIC_FIRED, RUN_COMPLETED, event, posted, render
from tests.conftest import load_fixture

PATH = "/workflows/w/triggers/manual/paths/invoke"
LEGACY_METRIC = "monitor-legacy-metric-static.noncommon.json"


@pytest.fixture
def teams(httpserver, tmp_path):
    httpserver.expect_request(PATH, method="POST").respond_with_data("", status=202)
    return TeamsSender("team", TeamsChannel(type="teams", url=httpserver.url_for(PATH)),
                       ChannelContext(session=make_session(), data_dir=tmp_path))


@pytest.fixture
def smtp(smtp_server, tmp_path):
    server = smtp_server()
    cfg = SmtpChannel(type="smtp", host="127.0.0.1", port=server.port, starttls=False,
                      sender="alerts@contoso.com", to=["oncall@contoso.com"], timeout_seconds=5)
    return SmtpMailSender("mail", cfg, ChannelContext(None, tmp_path, {})), server


def teams_card(channel, httpserver, ev, **kw) -> dict:
    assert channel.send(render(channel, ev, **kw)).status == "delivered"
    return posted(httpserver, PATH)[-1]["attachments"][0]["content"]


def facts(card: dict) -> dict[str, str]:
    return {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet" for f in b["facts"]}


def mail(pair, ev, **kw) -> tuple[str, str, str]:
    channel, server = pair
    assert channel.send(render(channel, ev, **kw)).status == "delivered"
    m = email.message_from_bytes(server.inbox.envelopes[-1].original_content, policy=email.policy.default)
    text, html = (p.get_content().replace("\r\n", "\n") for p in m.iter_parts())
    return m["Subject"], text, html


def with_window(window: str):
    p = copy.deepcopy(load_fixture(METRIC_FIRED))
    p["data"]["alertContext"]["condition"]["windowSize"] = window
    [ev] = parse_payload(p).events
    return ev


def test_a_metric_alert_reads_its_window_and_description_in_teams(teams, httpserver):
    card = teams_card(teams, httpserver, event(METRIC_FIRED))
    assert card["body"][2]["text"] == "Transactions (Total) GreaterThan 0: value 100 over 5 min. Alertruledescription"
    got = facts(card)
    assert got["Window"] == "5 min"
    assert got["Fired at"] == "2025-04-15 18:17:12 UTC"
    assert "PT5M" not in str(card)


def test_a_metric_alert_reads_its_window_and_description_in_email(smtp):
    subject, text, html = mail(smtp, event(METRIC_FIRED))
    assert "Transactions (Total) GreaterThan 0: value 100 over 5 min. Alertruledescription\n" in text
    assert "Criterion: Transactions (Total) GreaterThan 0 over 5 min: value 100\n" in text
    assert "Transactions (Total) GreaterThan 0 over 5 min: value 100" in html
    assert "PT5M" not in text and "PT5M" not in html


def test_the_legacy_metric_alert_sets_its_description_off(teams, httpserver, smtp):
    ev = event(LEGACY_METRIC)
    card = teams_card(teams, httpserver, ev)
    assert card["body"][2]["text"] == "Transactions (Total) GreaterThan 0: value 100. Alert rule description"
    assert facts(card)["Window"] == "5 min"
    _, text, _ = mail(smtp, ev)
    assert "value 100. Alert rule description\n" in text


@pytest.mark.parametrize("window, shown", [("PT1H", "1 h"), ("P1D", "1 day"), ("PT1H30M", "1 h 30 min"),
                                           ("PT45S", "45 s"), ("P1M", "P1M"), ("5 minutes", "5 minutes")])
def test_iso_windows_read_as_durations_and_anything_else_as_written(window, shown, teams, httpserver, smtp):
    ev = with_window(window)
    card = teams_card(teams, httpserver, ev)
    assert facts(card)["Window"] == shown
    assert card["body"][2]["text"].startswith(f"Transactions (Total) GreaterThan 0: value 100 over {shown}.")
    _, text, html = mail(smtp, ev)
    assert f"Criterion: Transactions (Total) GreaterThan 0 over {shown}: value 100\n" in text
    assert f"over {shown}: value 100" in html


def test_teams_and_email_show_one_time_format(teams, httpserver, smtp):
    ev = event(RUN_COMPLETED)
    assert ev.time.isoformat() == "2017-06-26T18:41:00.958410+00:00"
    card = teams_card(teams, httpserver, ev)
    _, text, html = mail(smtp, ev)
    assert facts(card)["Ended at"] == "2017-06-26 18:41:00 UTC"
    assert "Time: 2017-06-26 18:41:00 UTC\n" in text
    assert ">2017-06-26 18:41:00 UTC</td>" in html
    assert "2017-06-26T18:41" not in text and "2017-06-26T18:41" not in html


def test_a_run_of_30_and_a_half_minutes_reads_the_same_everywhere(teams, httpserver, smtp):
    ev = event(RUN_COMPLETED)
    started = ev.time - timedelta(minutes=30, seconds=30)
    card = teams_card(teams, httpserver, ev, started_at=started)
    assert card["body"][2]["text"] == "Experiment automl-local-regression ended: Completed in 30 min 30 s"
    assert facts(card)["Duration"] == "30 min 30 s"
    subject, text, html = mail(smtp, ev, started_at=started)
    assert subject == "Experiment automl-local-regression ended: Completed in 30 min 30 s"
    assert "Duration: 30 min 30 s\n" in text and ">30 min 30 s</td>" in html


@pytest.mark.parametrize("seconds, text", [(0, "0 s"), (45, "45 s"), (59.4, "59 s"), (60, "1 min"),
                                           (1830, "30 min 30 s"), (3600, "1 h"), (7500, "2 h 5 min"),
                                           (7530, "2 h 6 min"), (86400, "1 day"), (2 * 86400 + 3 * 3600, "2 days 3 h"),
                                           (None, ""), (-1, "")])
def test_duration_text_has_one_style(seconds, text):
    assert duration_text(seconds) == text


def test_the_acknowledged_card_says_its_sentence_once(teams, httpserver):
    ev = event(METRIC_FIRED)
    ack = ev.model_copy(update={"id": "ack|x|r", "kind": "alert.acknowledged", "title": f"Acknowledged by ana: {ev.title}"})
    card = teams_card(teams, httpserver, ack)
    said = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert said[1] == "Acknowledged by ana: Fired: test-metricAlertRule on test-storageAccount"
    assert sum("Acknowledged by ana" in s for s in said) == 1
    assert said[2] == "Transactions (Total) GreaterThan 0: value 100 over 5 min. Alertruledescription"


def test_an_acknowledged_card_without_its_own_words_has_no_text(teams, httpserver):
    ev = event(METRIC_FIRED)
    ack = ev.model_copy(update={"id": "ack|y|r", "kind": "alert.acknowledged", "summary": ev.title,
                                "title": f"Acknowledged by ana: {ev.title}"})
    card = teams_card(teams, httpserver, ack)
    said = [b["text"] for b in card["body"] if b["type"] == "TextBlock"]
    assert sum("test-metricAlertRule" in s for s in said) == 1


@pytest.mark.parametrize("extra, said", [(1, "1 more detail …truncated"), (2, "2 more details …truncated")])
def test_a_card_counts_the_details_it_leaves_out_in_words(extra, said, teams, httpserver):
    ev = event(METRIC_FIRED)
    many = ev.model_copy(update={"details": {f"property.p{i:02d}": f"v{i}" for i in range(20 + extra)}})
    card = teams_card(teams, httpserver, many)
    details = card["body"][card["body"].index(next(b for b in card["body"] if b.get("text") == "Details")) + 1]
    assert details["facts"][-1] == {"title": "…", "value": said}
