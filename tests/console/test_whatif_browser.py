"""The routing page's what-if in Chromium over the seeded month: paste a routing.yaml that drops QA
from a route and see the changed events, each linked to its trail; upload one on a phone (390 px)
and the page does not scroll sideways; a YAML error is shown on the page, in plain words."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest

from tests.console.seeded import DROP_QA, seeded_month, seeded_server, seeded_store  # noqa: F401
from tests.console.test_phone import page_width
from tests.replay.month import END

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def browser_page(chromium, request, tmp_path_factory):
    """A fresh context; script errors and CSP violations collected; a screenshot saved at the end."""
    size = PHONE if "phone" in request.node.name else {"width": 1280, "height": 900}
    context = chromium.new_context(viewport=size, is_mobile=size == PHONE, has_touch=size == PHONE)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.problems = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: pg.problems.append(f"script error: {exc}"))
    pg.on("console", lambda m: pg.problems.append(f"console: {m.text}") if "Content Security Policy" in m.text else None)
    pg.on("response", lambda r: pg.problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    yield pg
    shots = tmp_path_factory.getbasetemp() / "screenshots"
    shots.mkdir(exist_ok=True)
    pg.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
    context.close()


def week_runs(month) -> list:
    return [e for e in month.events if e.kind.startswith("run.") and END - timedelta(days=7) <= e.time < END]


def test_paste_a_config_that_drops_qa_and_follow_a_changed_event_to_its_trail(seeded_server, seeded_month,
                                                                               seeded_store, browser_page):
    page = browser_page
    page.goto(seeded_server.url + "/routing")
    page.get_by_label("routing.yaml to try").fill(DROP_QA)
    page.get_by_role("button", name="Replay the last 7 days").click()
    runs = week_runs(seeded_month)
    heading = page.get_by_role("heading", name=f"Events whose outcome changed: {len(runs)}")
    heading.wait_for()
    assert page.get_by_role("status").inner_text().startswith("Replayed ")
    # the text box keeps what was pasted, to edit and try again
    assert page.get_by_label("routing.yaml to try").input_value() == DROP_QA
    items = page.locator("ol.changed-events > li")
    assert items.count() == len(runs)
    assert "no longer reaches quality-assurance" in items.first.inner_text()
    links = page.locator("ol.changed-events > li > a")
    ids = [unquote(href.split("id=", 1)[1]) for href in links.evaluate_all("as => as.map(a => a.getAttribute('href'))")]
    assert set(ids) == {e.id for e in runs}
    assert all(seeded_store.get_event(i) is not None for i in ids)
    # every QA row of the figures drops to 0 in the replayed column
    qa_rows = page.locator("table.figures tbody tr", has_text="quality-assurance")
    assert qa_rows.count() > 0
    for i in range(qa_rows.count()):
        recorded, replayed, change = qa_rows.nth(i).locator("td.num").all_inner_texts()
        assert int(recorded) > 0 and replayed == "0" and change == f"-{recorded}"
    first = items.first.locator("a")
    title = first.inner_text().split(" ", 1)[1]
    first.click()
    page.wait_for_url(re.compile(r".*/event\?id=.*"))
    assert title in page.locator("main").inner_text()
    assert "experiment-lifecycle: match" in page.locator("ol.trail").inner_text()
    assert page.problems == []


def test_a_yaml_error_shows_on_the_page(seeded_server, browser_page):
    page = browser_page
    page.goto(seeded_server.url + "/routing")
    page.get_by_label("routing.yaml to try").fill("version: 1\nroles:\n  on-call: {channels: [pager]\n")
    page.get_by_role("button", name="Replay the last 7 days").click()
    alert = page.locator(".whatif-result [role=alert]")
    alert.wait_for()
    assert "routing.yaml has 1 problem(s); nothing was replayed" in alert.inner_text()
    assert re.search(r"routing\.yaml:\d+ YAML syntax error at column \d+:", alert.inner_text())
    assert page.url.endswith("/routing/whatif#what-if")
    assert [p for p in page.problems if not p.startswith("400 ")] == []


def test_upload_a_config_on_a_phone(seeded_server, seeded_month, browser_page):
    page = browser_page
    page.goto(seeded_server.url + "/routing")
    page.get_by_label("or upload a file").set_input_files(
        files=[{"name": "routing-without-qa.yaml", "mimeType": "application/yaml", "buffer": DROP_QA.encode()}])
    page.get_by_role("button", name="Replay the last 7 days").click()
    page.get_by_role("heading", name=f"Events whose outcome changed: {len(week_runs(seeded_month))}").wait_for()
    assert "under routing-without-qa.yaml" in page.get_by_role("status").inner_text()
    assert page_width(page) <= PHONE["width"]
    assert page.problems == []
