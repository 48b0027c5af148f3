"""The digest email's parts, parsed back: sections, charts drawn with table cells, nothing external,
and what a restricted role does not get."""

from __future__ import annotations

import re

import pytest

from alertrouter.config.schema import DIGEST_SECTIONS
from alertrouter.digest import collect, period_ending, render_digest
from alertrouter.rendering.renderer import Renderer

from .conftest import BERLIN, NEXT_WEEK, WEEK
from .expected import expected
from .html_tools import parse


@pytest.fixture
def data(store):
    return collect(store, "weekly-summary", period_ending(NEXT_WEEK.date(), 7, BERLIN), metrics=["accuracy", "auc"])


def want_runs(world):
    return expected(world, WEEK, NEXT_WEEK)["ended"]


def want_rate(world):
    return f"{expected(world, WEEK, NEXT_WEEK)['success_rate'] * 100:.0f}%"


def want_alerts(world):
    return expected(world, WEEK, NEXT_WEEK)["fired"]


def render(data, visibility="full", **kw):
    return render_digest(Renderer(strict=True), data, role="business-analyst", visibility=visibility,
                         channel="mail", **kw)


def test_html_has_every_section_in_order(data, world):
    msg = render(data)
    assert msg.template_errors == {}
    doc = parse(msg.parts["html"])
    ids = [h.attrs["id"] for h in doc.all("h2")]
    assert ids == ["summary", *DIGEST_SECTIONS]
    assert doc.all("title")[0].full_text() == doc.all("h1")[0].full_text() == "Weekly summary: 19 – 25 Oct 2026"
    assert msg.title == msg.parts["subject"] == (f"Weekly summary: 19 – 25 Oct 2026 · {want_runs(world)} runs, "
                                                 f"{want_rate(world)} succeeded · {want_alerts(world)} alerts")
    assert "Compared with 12 – 18 Oct 2026" in doc.full_text()

    want = expected(world, WEEK, NEXT_WEEK)
    headline = {tr.attrs["data-figure"]: [td.full_text() for td in tr.all("td")]
                for tr in doc.all("table", id="headline")[0].all("tr", data_figure=True)}
    assert headline["runs"][:2] == ["Runs ended", str(want["ended"])]
    assert headline["alerts"][:2] == ["Alerts fired", str(want["fired"])]
    assert [tr.attrs["data-experiment"] for tr in doc.all("tr", data_experiment=True)] == \
        [x for x, _, _ in want["failing"]]
    assert {tr.attrs["data-monitor"] for tr in doc.all("tr", data_monitor=True)} == set(want["drift"])
    assert {tr.attrs["data-budget"] for tr in doc.all("tr", data_budget=True)} == {b for b, _ in want["budgets"]}
    severities = {td.attrs["data-severity"]: td.full_text().split()[0] for td in doc.all("td", data_severity=True)}
    assert severities == {s: str(want["by_severity"].get(s, 0))
                          for s in ("critical", "error", "warning", "informational", "verbose")}


def test_charts_are_table_cells_sized_by_count(data, world):
    doc = parse(render(data).parts["html"])
    want = expected(world, WEEK, NEXT_WEEK)
    [runs_chart] = doc.all("table", data_chart="runs-per-day")
    rows = runs_chart.all("tr", data_day=True)
    assert [r.attrs["data-day"] for r in rows] == [d.isoformat() for d in want["runs_per_day"]]
    top = max(sum(v.values()) for v in want["runs_per_day"].values())
    for row, counts in zip(rows, want["runs_per_day"].values()):
        assert row.all("td", data_total=True)[0].full_text() == str(sum(counts.values()))
        cells = [td for td in row.all("td") if td.attrs.get("bgcolor") and td.attrs.get("title")]
        assert [int(td.attrs["title"].split()[0]) for td in cells] == [n for n in counts.values() if n]
        for td in cells:  # width in percent of the longest bar, in the attribute and the style (Outlook reads the attribute)
            n = int(td.attrs["title"].split()[0])
            assert float(td.attrs["width"].removesuffix("%")) == round(max(3, round(n / top * 320)) * 100 / 320, 2)
            assert f"width:{td.attrs['width']};" in td.attrs["style"]
    [alerts_chart] = doc.all("table", data_chart="alerts-per-day")
    assert len(alerts_chart.all("tr", data_day=True)) == 7


def test_html_is_self_contained_and_outlook_safe(data):
    html = render(data).parts["html"]
    doc = parse(html)
    assert not doc.all("img") and not doc.all("script") and not doc.all("link")
    assert not re.search(r"\b(src|background)\s*=", html)
    assert "<div style=\"display:flex" not in html
    # one <style>, a phone's media query only: every class it names is a refinement of inline styles
    [style] = doc.all("style")
    rules = style.full_text()
    assert rules.count("@media") == 1 and "@import" not in rules and "url(" not in rules
    classes = {c for node in doc.all() for c in node.attrs.get("class", "").split()}
    assert classes == {"shell", "pad", "wide"} and all(f".{c} " in rules for c in classes)
    assert all("style" in node.attrs for node in doc.all() if "class" in node.attrs)
    tables = doc.all("table")
    assert tables and all(t.attrs.get("cellpadding") == "0" and t.attrs.get("border") == "0" for t in tables)
    # every link points at Azure ML studio (a failed run), nothing else is fetched or linked
    hrefs = [a.attrs["href"] for a in doc.all("a")]
    assert hrefs and all(h.startswith("https://ml.azure.com/runs/") for h in hrefs)


def test_restricted_role_gets_no_links_and_no_run_metrics(data):
    msg = render(data, visibility="restricted")
    doc = parse(msg.parts["html"])
    assert doc.all("a") == []
    assert "https://" not in msg.parts["html"] and "https://" not in msg.parts["text"]
    ids = [h.attrs["id"] for h in doc.all("h2")]
    assert "metrics" not in ids and "experiments" in ids
    assert "RUN METRICS" not in msg.parts["text"]


def test_text_part_reads_on_its_own(data, world):
    text = render(data).parts["text"]
    want = expected(world, WEEK, NEXT_WEEK)
    for heading in ("AT A GLANCE", "TRAINING RUNS", "EXPERIMENTS FAILING MOST", "MODELS REGISTERED AND DEPLOYED",
                    "DATA DRIFT", "ALERTS FIRED", "TIME TO RESOLVE", "RUN METRICS", "COST AND BUDGETS"):
        assert heading in text
    assert f"{want['ended']} ended: {want['succeeded']} succeeded, {want['failed']} failed" in text
    assert "<" not in text.replace("<redacted>", "")
    bars = re.findall(r"^  (\w{3} \d\d \w{3})  ([#x\-]*)\s+(\d+)$", text, re.M)
    assert [(b[0], int(b[2])) for b in bars] == [(f"{d:%a %d %b}", sum(v.values()))
                                                 for d, v in want["runs_per_day"].items()]


def test_sections_follow_the_config(data):
    data.sections = ["runs", "alerts"]
    msg = render(data)
    ids = [h.attrs["id"] for h in parse(msg.parts["html"]).all("h2")]
    assert ids == ["summary", "runs", "alerts"]
    assert "DATA DRIFT" not in msg.parts["text"]
    assert "Models registered" not in msg.parts["html"]


def test_a_broken_template_falls_back_to_plain_figures(data, tmp_path):
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.html.j2").write_text("{{ no_such_field.x }}")
    msg = render(data, template_dirs=[str(tmp_path)])
    assert "html" in msg.template_errors
    assert msg.parts["html"].startswith("<pre>") and "Runs ended" in msg.parts["html"]
    assert "TRAINING RUNS" in msg.parts["text"]


def test_an_empty_period_renders_every_section(tmp_path):
    from alertrouter.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "empty.db")
    data = collect(store, "weekly-summary", period_ending(NEXT_WEEK.date(), 7, BERLIN), metrics=["accuracy"])
    msg = render(data)
    assert msg.template_errors == {}
    ids = [h.attrs["id"] for h in parse(msg.parts["html"]).all("h2")]
    assert ids == ["summary", *DIGEST_SECTIONS]
    for sentence in ("No failed runs.", "No models registered or deployed.", "No drift detected.",
                     "No run reported these metrics.", "No budget alerts."):
        assert sentence in msg.parts["html"] and sentence in msg.parts["text"]
    assert msg.parts["subject"].endswith("· 0 runs · 0 alerts")
    store.close()


def test_names_from_payloads_are_escaped(tmp_path):
    from datetime import timedelta

    from alertrouter.model import Event
    from alertrouter.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "x.db")
    evil = '<img src="https://evil.example/x.png">'
    t = WEEK + timedelta(days=1)
    store.ingest([(Event(id="e1", source="aml", kind="run.failed", severity="error", title="x", time=t,
                         fingerprint="run:1", labels={"experiment": evil}), []),
                  (Event(id="e2", source="azure-monitor", kind="alert.fired", severity="error", title=evil, time=t,
                         fingerprint="a:1", labels={"alert_rule": evil}), [])], 0)
    data = collect(store, "weekly-summary", period_ending(NEXT_WEEK.date(), 7, BERLIN), metrics=[evil])
    html = render(data).parts["html"]
    assert "<img" not in html and "&lt;img" in html
    assert not parse(html).all("img")
    store.close()


@pytest.mark.parametrize("broken", ["{% if %}", "{{ runs | no_such_filter }}"])
def test_a_template_that_does_not_compile_falls_back_to_the_shipped_one(data, tmp_path, broken):
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "digest.html.j2").write_text("line one\n" + broken)
    msg = render(data, template_dirs=[str(tmp_path)])
    assert "digest.html.j2:2" in msg.template_errors["html"]
    assert not msg.parts["html"].startswith("<pre>") and "Runs ended" in msg.parts["html"]  # the shipped digest


def test_counts_of_one_read_in_the_singular(data):
    data.current.runs["ended"], data.current.alerts["fired"] = 1, 1
    subject = render(data).parts["subject"]
    assert "· 1 run, " in subject and subject.endswith("· 1 alert")
