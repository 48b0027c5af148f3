"""The digest's noise section: a digest that lists `noise` (the software engineers') gets the top
offenders and the suggestions with their snippets, in the email's text and HTML; a digest that
does not list it, and the default sections, do not."""

from __future__ import annotations

from datetime import date

import pytest

from alertrouter.config.load import loads
from alertrouter.config.schema import DIGEST_SECTIONS, Digest
from alertrouter.digest import period_ending
from alertrouter.digest.runner import DigestRunner
from alertrouter.errors import ConfigError
from tests.digest.html_tools import parse
from tests.replay.configs import BASE, ENV

DIGESTS = """
digests:
  engineers-monthly:
    schedule: "0 0 8 2 * *"
    roles: [software-engineer]
    period_days: 30
    sections: [alerts, noise]
  analysts-weekly:
    schedule: "0 0 8 * * Mon"
    roles: [business-analyst]
"""
MONTH = period_ending(date(2026, 12, 2), 30, "UTC")  # the seeded month: 2 Nov to 1 Dec


@pytest.fixture
def runner(recorded_sqlite, tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(BASE + DIGESTS, encoding="utf-8")
    return DigestRunner(loads(BASE + DIGESTS, str(path), env=ENV), recorded_sqlite, {})


def test_the_engineers_digest_has_the_noise_section(runner, noise_report):
    msg = runner.preview("engineers-monthly", MONTH)
    assert msg.template_errors == {}
    text, doc = msg.parts["text"], parse(msg.parts["html"])
    assert [h.attrs["id"] for h in doc.all("h2")] == ["summary", "alerts", "noise"]
    assert "NOISE: WHAT NOTIFIED MOST, AND WHAT TO CHANGE" in text
    top = noise_report.top[0]
    assert f"  {top.rule}: {top.notices} notices, {top.pages} pages" in text
    rows = [[td.full_text() for td in tr.all("td")] for tr in doc.all("table", id="noise-table")[0].all("tr", data_rule=True)]
    assert rows == [[x.rule, str(x.notices), str(x.pages)] for x in noise_report.top[:3]]
    assert "Flapping: disk-latency on vm-data-1, 81 times on 9 days" in text
    assert doc.all("div", data_flapping="disk-latency")
    # the suggestions, each with its snippet, in the order of the report (three at most)
    cells = doc.all("td", data_suggestion=True)
    assert [c.attrs["data-suggestion"] for c in cells] == [f"{s.kind}/{s.rule}" for s in noise_report.suggestions[:3]]
    inhibit = next(s for s in noise_report.suggestions if s.kind == "inhibit")
    assert f"Suggestion: inhibit for cpu-high ({inhibit.claim.text()})" in text
    assert "      - name: endpoint-5xx-holds-cpu-high" in text  # the snippet, indented under it
    assert "name: endpoint-5xx-holds-cpu-high" in doc.all("td", data_suggestion="inhibit/cpu-high")[0].full_text()
    assert f"And {len(noise_report.suggestions) - 3} more: alertrouter noise" in text


def test_a_digest_that_does_not_list_it_has_none(runner):
    msg = runner.preview("analysts-weekly", period_ending(date(2026, 11, 16), 7, "UTC"))
    assert "NOISE" not in msg.parts["text"]
    assert [h.attrs["id"] for h in parse(msg.parts["html"]).all("h2")] == ["summary", *DIGEST_SECTIONS]
    assert runner.build("analysts-weekly", MONTH).noise is None


def test_noise_is_listed_not_default():
    assert "noise" not in Digest(schedule="0 0 8 * * Mon", roles=["x"]).sections
    with pytest.raises(ConfigError) as exc:
        loads(BASE + DIGESTS.replace("[alerts, noise]", "[alerts, nosie]"), "routing.yaml", env=ENV)
    assert "nosie" in str(exc.value.problems) and "noise" in str(exc.value.problems)
