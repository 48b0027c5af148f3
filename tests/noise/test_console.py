"""The console's /noise page on a real local server over a recorded store: the findings and the
suggestions' snippets, on a phone in Chromium (no sideways scroll, no failed request), linked from
the nav; a bad period is said on the page."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import RunningServer
from tests.console.conftest import CHROMIUM, FLAGS
from tests.console.test_phone import PHONE, page_width
from tests.replay.configs import BASE
from tests.replay.conftest import record
from tests.replay.month import START, Month

DAYS = 16
PERIOD = f"from={START.date().isoformat()}&to={(START + timedelta(days=DAYS)).date().isoformat()}"


@pytest.fixture(scope="module")
def server(tmp_path_factory, the_month):
    """The local server over 16 recorded days; no channel secrets set, so its notices go to the log channel."""
    d = tmp_path_factory.mktemp("noise-console")
    (d / "routing.yaml").write_text(BASE, encoding="utf-8")
    loaded = loads(BASE, str(d / "routing.yaml"), env={})
    store = SqliteStore(d / "alertrouter.db")
    record(store, Month([e for e in the_month.events if e.time < START + timedelta(days=DAYS)], []), d, loaded)
    with RunningServer(App(loaded, d, store=store)) as s:
        yield s
    store.close()


def in_a_thread_of_its_own(check) -> None:
    """Run `check(browser)` on a Chromium of its own, on a thread of its own: Playwright's sync API
    refuses a thread that already runs one (tests/console's session-wide Chromium, in a full run)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    failed: list[BaseException] = []

    def run() -> None:
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
                try:
                    check(browser)
                finally:
                    browser.close()
        except BaseException as exc:  # the test's own failure, raised again on the test's thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="noise-browser")
    thread.start()
    thread.join(300)
    assert not thread.is_alive(), "the browser check did not finish in 5 minutes"
    if failed:
        raise failed[0]


def test_the_noise_page_on_a_phone(server):
    in_a_thread_of_its_own(lambda browser: _noise_page_on_a_phone(server, browser))


def _noise_page_on_a_phone(server, chromium) -> None:
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=3)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    bad = []
    pg.on("response", lambda r: bad.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        pg.goto(server.url + "/status")
        pg.get_by_role("link", name="Noise").click()
        pg.wait_for_url("**/noise")
        assert pg.locator("nav a[aria-current=page]").inner_text() == "Noise"
        pg.goto(f"{server.url}/noise?{PERIOD}")
        pg.wait_for_load_state("networkidle")
        assert page_width(pg) <= PHONE["width"], f"/noise is {page_width(pg)} px wide"
        first = pg.locator("#noise-top tbody tr").first.locator("td")
        assert first.nth(0).inner_text() == "endpoint-5xx"
        flapping = pg.locator("#noise-flapping tbody tr")
        assert flapping.count() == 1
        assert [flapping.locator("td").nth(i).inner_text() for i in range(4)] == ["disk-latency", "vm-data-1", "45", "5"]
        assert pg.locator("#noise-held tbody tr").first.locator("td").first.inner_text() == "reached"
        suggestions = pg.locator("#noise-suggestions > li")
        inhibit = suggestions.filter(has_text="inhibit for cpu-high")
        assert inhibit.count() == 1
        assert "name: endpoint-5xx-holds-cpu-high" in inhibit.locator("pre").inner_text()
        assert suggestions.filter(has_text="group_wait for disk-latency").locator("pre").inner_text().count(
            "group_wait: 3m") == 1
        assert "Nights are 22:00-07:00 UTC" in pg.locator("#noise-nights").inner_text()
        assert bad == [], bad
    finally:
        context.close()


def test_a_bad_period_is_said_on_the_page(server):
    r = requests.get(server.url + "/noise?since=soon", timeout=30)
    assert r.status_code == 400
    assert "--since: &#34;soon&#34; is not a duration; write it like 30s, 5m, 4h, 1d or 2w" in r.text
    r = requests.get(server.url + "/noise?from=2026-11-20&to=2026-11-10", timeout=30)
    assert r.status_code == 400 and "is not after --from" in r.text


def test_a_period_over_the_pages_cap_reports_its_most_recent_events(server, the_month, monkeypatch):
    """The page reads its period in the request: past NOISE_EVENTS source events it reports on the
    most recent ones and says from when, and how to report on them all."""
    from alertrouter.console.pages import Console

    monkeypatch.setattr(Console, "NOISE_EVENTS", 40)
    end = START + timedelta(days=DAYS)
    period = sorted((e for e in the_month.events if START <= e.time < end), key=lambda e: e.time)
    first = period[-40].time
    r = requests.get(server.url + "/noise?" + PERIOD, timeout=60)
    assert r.status_code == 200, r.text
    assert (f"The period holds more than 40 events, the most this page reports on at once: this covers the most "
            f"recent ones, from {first:%Y-%m-%d %H:%M:%S} UTC.") in r.text
    assert f"alertrouter noise --from {START:%Y-%m-%dT%H:%M:%SZ} --to {end:%Y-%m-%dT%H:%M:%SZ}" in r.text
    assert f"{sum(1 for e in period if e.time >= first)} source events" in r.text
