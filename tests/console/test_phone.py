"""The console on a phone (390 x 844, Chromium): the events table keeps its Event column on screen,
no page scrolls sideways, and no request of any page answers 404 (the icon included)."""

from __future__ import annotations

import re

import pytest

from alertrouter.store.base import EventFilter
from tests.conftest import wait_until
from tests.console.conftest import alert, post_alert, post_run_failed

PHONE = {"width": 390, "height": 844}
LONG_RULE = "gpu-memory-pressure-on-the-nightly-distributed-training-cluster-in-westeurope"


@pytest.fixture
def phone(chromium, tmp_path_factory, request):
    """A phone-sized page that records every response of 400 or more and every failed request."""
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.bad = []  # type: ignore[attr-defined]
    pg.on("response", lambda r: pg.bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    pg.on("requestfailed", lambda r: pg.bad.append(f"failed {r.url}: {r.failure}"))
    yield pg
    shots = tmp_path_factory.getbasetemp() / "screenshots"
    shots.mkdir(exist_ok=True)
    pg.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
    context.close()


def page_width(pg) -> int:
    """How wide the page's content is: more than the viewport means the body scrolls sideways."""
    return pg.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def test_the_events_table_reads_on_a_phone(open_server, phone):
    post_run_failed(open_server)
    post_alert(open_server, alert(1, rule=LONG_RULE, severity="Sev3"))
    phone.goto(open_server.url + "/")
    assert page_width(phone) <= PHONE["width"]
    rows = phone.locator("table.list tbody tr")
    assert rows.count() == 2
    for i in range(2):
        row = rows.nth(i)
        cell = row.locator("td", has=phone.locator("a[href*='/event?id=']"))
        box = cell.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
        assert box["width"] >= 300, f"the Event column is squeezed to {box['width']:.0f} px"
        assert box["y"] < row.locator("td", has=phone.locator(".sev")).bounding_box()["y"]  # the event first, its severity under it
        link = cell.get_by_role("link")
        assert link.is_visible()
        lbox = link.bounding_box()
        assert lbox["x"] >= 0 and lbox["x"] + lbox["width"] <= PHONE["width"], lbox
        assert float(link.evaluate("a => getComputedStyle(a).fontSize").removesuffix("px")) >= 14
    long = rows.filter(has_text="gpu-memory-pressure")
    assert LONG_RULE in long.locator("td", has=phone.locator("a[href*='/event?id=']")).inner_text()  # wrapped, not cut
    # when and where from, under the title, since their columns are hidden on a phone
    under = long.locator("td .narrow-only")
    assert under.is_visible() and "azure-monitor" in under.inner_text()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", under.inner_text())
    assert not long.locator("td.wide-only").first.is_visible()
    # on a desktop, the columns are back and the repeated line is gone
    phone.set_viewport_size({"width": 1280, "height": 800})
    assert phone.get_by_role("columnheader", name="Received").is_visible()
    assert long.locator("td.wide-only").first.is_visible() and not under.is_visible()
    assert phone.bad == []


def test_no_console_page_scrolls_sideways_or_misses_a_request(open_server, receiver, phone):
    receiver.expect_request("/pager").respond_with_data("no", status=500)
    post_run_failed(open_server)
    post_alert(open_server, alert(2, rule=LONG_RULE, severity="Sev1"))
    store = open_server.app.store
    wait_until(lambda: store.counts()["dead"] >= 1, what="the page to die (the receiver answers 500)")
    events = [e for e, _ in store.list_events(EventFilter()).events]
    [event_id] = [e.id for e in events if LONG_RULE in e.title]
    [mail] = [n for e in events for n in store.notifications_for(e.id) if n.channel == "mail"]
    base = open_server.url
    pages = ["/", f"/event?id={event_id}", "/silences", "/silences?preview=1&matchers=resource%3Dvm-7", "/outbox",
             "/outbox?status=dead", "/routing", "/status", "/login", "/event?id=no-such-event"]
    for path in pages:
        phone.goto(base + path)
        phone.wait_for_load_state("networkidle")
        assert page_width(phone) <= PHONE["width"], f"{path} is {page_width(phone)} px wide"
        icons = phone.locator("link[rel=icon]")
        assert icons.count() == 1, f"{path} names no icon: the browser asks /favicon.ico"
        assert phone.request.get(base + icons.get_attribute("href")).status == 200, path
    bad = [b for b in phone.bad if not b.endswith("/event?id=no-such-event")]  # the error page itself
    assert bad == [], bad
    # a page opened on its own (the email preview) has no <link rel=icon>: the browser asks /favicon.ico
    phone.goto(base + f"/event/email?n={mail.id}")
    icon = phone.request.get(base + "/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in icon.body()
    assert [b for b in phone.bad if not b.endswith("/event?id=no-such-event")] == []


# --- the digest email on a phone (the browser tests' Chromium, the digest tests' seeded store) ---

from alertrouter.digest import collect, period_ending, render_digest  # noqa: E402
from alertrouter.rendering.renderer import Renderer  # noqa: E402
from tests.digest.conftest import BERLIN, NEXT_WEEK, seeded_db, store, world  # noqa: E402,F401

OVERFLOWING = """() => [...document.querySelectorAll('body *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && (r.left < -0.5 || r.right > window.innerWidth + 0.5);
}).map(e => `${e.tagName}${e.id ? '#' + e.id : ''} ${Math.round(e.getBoundingClientRect().right)} px: `
            + e.textContent.trim().slice(0, 40))"""


def test_the_digest_email_fits_a_phone(chromium, store, tmp_path_factory):  # noqa: F811
    data = collect(store, "weekly-summary", period_ending(NEXT_WEEK.date(), 7, BERLIN), metrics=["accuracy", "auc"])
    msg = render_digest(Renderer(strict=True), data, role="business-analyst", visibility="full", channel="mail")
    html = msg.parts["html"]
    assert msg.template_errors == {}
    context = chromium.new_context(viewport=PHONE, is_mobile=True, device_scale_factor=2)
    try:
        pg = context.new_page()
        pg.set_content(html)
        shots = tmp_path_factory.getbasetemp() / "screenshots"
        shots.mkdir(exist_ok=True)
        pg.screenshot(path=str(shots / "digest-email-390.png"), full_page=True)
        assert page_width(pg) <= PHONE["width"]
        assert pg.evaluate(OVERFLOWING) == []
        # every section is there, and the figures are readable (no text shrunk to fit)
        assert pg.locator("h2").count() == 9
        assert all(float(size.removesuffix("px")) >= 11 for size in pg.eval_on_selector_all(
            "td, th", "cells => cells.filter(c => c.textContent.replace(/\\u00a0/g, '').trim())"
                   ".map(c => getComputedStyle(c).fontSize)"))
        # the bars keep their proportions at a phone's width: a day's cells are sized by its counts
        for day in pg.locator("[data-chart=runs-per-day] tr[data-day]").all():
            cells = day.locator("td[title]").all()
            counts = [int(c.get_attribute("title").split()[0]) for c in cells]
            widths = [c.bounding_box()["width"] for c in cells]
            for n, w in zip(counts, widths):
                assert abs(w / widths[0] - n / counts[0]) < 0.35 * max(1, n / counts[0]), (counts, widths)
        # on a desktop, the email is 640 px wide, centred (Outlook on Windows gets the same from a fixed table)
        pg.set_viewport_size({"width": 1280, "height": 900})
        box = pg.locator("table[role=presentation]").nth(1).bounding_box()
        assert box["width"] == 640 and abs(box["x"] - (1280 - 640) / 2) < 20
        assert '<!--[if mso]><table role="presentation" width="640"' in html
    finally:
        context.close()
