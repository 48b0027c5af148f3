"""The acknowledge link in Chromium: the page the link opens shows what would be acknowledged and a
button; pressing it (a plain form, allowed by the page's CSP and by the local server's cross-site
check, as a real browser sends it) acknowledges and stops the escalation."""

from __future__ import annotations

import pytest

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.pipeline import escalate
from alertrouter.store.base import EventFilter
from tests.conftest import RunningServer
from tests.console.conftest import alert, post_alert
from tests.console.test_browser import chromium, page  # noqa: F401  (fixtures)

CONFIG = """
channels:
  pager: {type: log}
roles:
  on-call: {channels: [pager]}
  lead: {channels: [pager]}
routes:
  - name: pages
    match: {severity: {at_least: error}}
    roles: [on-call]
    escalate: {after: 15m, to: [lead]}
"""


@pytest.fixture
def ack_server(tmp_path):
    app = App(loads(CONFIG, str(tmp_path / "routing.yaml")), tmp_path / "data", ack_secret=b"b" * 32)
    with RunningServer(app) as s:
        app.pipeline.public_url = s.url
        yield s


def test_the_link_opens_a_page_whose_button_acknowledges(ack_server, page):  # noqa: F811
    app = ack_server.app
    post_alert(ack_server, alert(1, rule="gpu-<b>hot</b>", severity="Sev0"))
    [(event, _)] = app.store.list_events(EventFilter(), "", 5).events
    link = app.pipeline.ack_link(event, "pages", app.clock())
    page.goto(link)
    assert page.get_by_role("heading").inner_text() == "Acknowledge this page?"
    assert "Fired: gpu-<b>hot</b> on vm-7" in page.locator("strong").inner_text()   # shown as text
    assert [d["state"] for _, d, _ in app.store.state_list(escalate.KIND)] == ["waiting"]
    page.get_by_label("Your name").fill("ana")
    page.get_by_role("button", name="Acknowledge").click()
    page.get_by_role("heading", name="Acknowledged").wait_for()
    assert "Acknowledged by ana: Fired: gpu-<b>hot</b> on vm-7" in page.locator("p").inner_text()
    assert [d["state"] for _, d, _ in app.store.state_list(escalate.KIND)] == ["acknowledged"]
    assert page.problems == []
