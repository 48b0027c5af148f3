"""The console in a real browser: Playwright driving Debian's Chromium (`make test` installs it
with apt when /usr/bin/chromium is missing; Playwright's own browser download is not used).

Fixtures go in through the HTTP API, as Azure would post them; each test saves a screenshot under
the run's pytest folder: <basetemp>/screenshots/<test>.png.
"""

from __future__ import annotations

import re

import pytest

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.pipeline import escalate
from alertrouter.store.base import EventFilter
from tests.conftest import RunningServer, wait_until
from tests.console.conftest import OPERATOR_KEY, alert, post_alert, post_run_failed


@pytest.fixture
def page(chromium, request, tmp_path_factory):
    """A fresh browser context (its own cookies) with a phone-sized window; script errors, dialogs
    and CSP violations are collected; a screenshot is saved when the test ends."""
    context = chromium.new_context(viewport={"width": 412, "height": 915})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.problems = []  # type: ignore[attr-defined]
    pg.on("pageerror", lambda exc: pg.problems.append(f"script error: {exc}"))
    pg.on("dialog", lambda d: (pg.problems.append(f"dialog: {d.message}"), d.dismiss()))
    pg.on("console", lambda m: pg.problems.append(f"console: {m.text}") if "Content Security Policy" in m.text else None)
    yield pg
    shots = tmp_path_factory.getbasetemp() / "screenshots"
    shots.mkdir(exist_ok=True)
    pg.screenshot(path=str(shots / f"{request.node.name}.png"), full_page=True)
    context.close()


def sign_in(page, server) -> None:
    page.goto(server.url + "/login?next=/")
    page.get_by_label("Your name").fill("ana")
    page.get_by_label("Operator key").fill(OPERATOR_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.url + "/")
    assert page.get_by_text("ana (operator key)").is_visible()


def test_find_an_event_by_filter_and_see_its_trail(open_server, page):
    post_run_failed(open_server)
    post_alert(open_server, alert(1, severity="Sev3"))
    page.goto(open_server.url + "/")
    assert page.locator("table.list tbody tr").count() == 2
    page.get_by_label("Kind").select_option("run.failed")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*kind=run\.failed.*"))
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1
    rows.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/event\?id=.*"))
    matched = page.locator("ol.trail li.match")
    assert matched.count() == 1 and matched.inner_text().startswith("runs: match")
    assert "pages: no match" in page.locator("ol.trail").inner_text()
    # the Teams notice, drawn by the Adaptive Cards renderer; the email in its sandboxed frame
    page.locator(".card-preview.rendered .ac-adaptiveCard").first.wait_for()
    assert "automl-local-regression" in page.locator(".card-preview.rendered").first.inner_text()
    frame = page.frame_locator("iframe.email-preview")
    assert "automl-local-regression" in frame.locator("body").inner_text()
    assert page.problems == []


def test_a_silence_made_in_the_form_holds_a_matching_alert(keyed_server, page):
    sign_in(page, keyed_server)
    page.get_by_role("link", name="Silences").click()
    page.get_by_label("Matchers").fill("resource=vm-9")
    page.get_by_label("Duration").fill("1h")
    page.get_by_label("Comment").fill("planned reboot")
    assert page.get_by_label("Author").input_value() == "ana"
    page.get_by_role("button", name="Preview: what would it silence?").click()
    page.get_by_text("No open alert matches now").wait_for()
    page.get_by_role("button", name="Create silence").click()
    page.wait_for_url(re.compile(r".*/silences\?created=s_[0-9a-f]+"))
    sid = re.search(r"created=(s_[0-9a-f]+)", page.url).group(1)
    assert page.locator(f"tr#{sid}").inner_text().count("planned reboot") == 1

    post_alert(keyed_server, alert(2, resource="vm-9", severity="Sev3"), key=OPERATOR_KEY)
    page.goto(keyed_server.url + "/?label=resource%3Dvm-9")
    page.locator("table.list tbody tr").get_by_role("link").click()
    for note in page.locator("article.note").all():
        assert "held" in note.locator("h3").inner_text()
        decided = note.locator(".stage").inner_text()
        assert decided.startswith(f"silence: silenced by {sid} (planned reboot, by ana)"), decided
    note = page.locator("article.note").first
    note.get_by_role("link", name=f"silence {sid}").click()
    page.wait_for_url(re.compile(rf".*/silences#{sid}$"))
    assert page.problems == []


def test_silence_from_the_event_page(open_server, page):
    post_alert(open_server, alert(5, rule="cpu-high", resource="vm-5", severity="Sev3"))
    page.goto(open_server.url + "/")
    page.locator("table.list tbody tr").get_by_role("link").click()
    page.get_by_role("button", name="Silence events like this for 1 h…").click()
    assert page.get_by_label("Matchers").input_value() == "alert_rule=cpu-high\nresource=vm-5"
    assert "Fired: cpu-high on vm-5" in page.locator("ul.affected").inner_text()
    page.get_by_label("Author").fill("ana")
    page.get_by_label("Comment").fill("known, fixing")
    page.get_by_role("button", name="Preview: what would it silence?").click()
    page.get_by_role("button", name="Create silence").click()
    page.wait_for_url(re.compile(r".*/silences\?created=s_[0-9a-f]+"))
    [(_, doc, _)] = open_server.app.store.state_list("silence")
    assert doc["matchers"] == {"alert_rule": "cpu-high", "resource": "vm-5"}
    assert doc["ends_at"] - doc["starts_at"] == 3600
    assert page.problems == []


def test_silence_from_the_event_page_created_directly(open_server, page):
    """Matchers, author and comment typed, Create pressed at once (no second Preview): the silence
    is made with what was typed and listed; a refusal keeps what was typed in the form."""
    post_alert(open_server, alert(5, rule="cpu-high", resource="vm-5", severity="Sev3"))
    page.goto(open_server.url + "/")
    page.locator("table.list tbody tr").get_by_role("link").click()
    page.get_by_role("button", name="Silence events like this for 1 h…").click()
    page.get_by_label("Matchers").fill("resource=vm-5")
    page.get_by_label("Comment").fill("known, fixing")
    page.get_by_label("Author").fill("")
    page.get_by_label("Author").evaluate("el => el.removeAttribute('required')")  # as a browser without validation
    page.get_by_role("button", name="Create silence").click()
    page.get_by_text("a silence needs an author and a comment").wait_for()
    assert page.get_by_label("Matchers").input_value() == "resource=vm-5"
    assert page.get_by_label("Comment").input_value() == "known, fixing"
    page.get_by_label("Author").fill("ana")
    page.get_by_role("button", name="Create silence").click()
    page.wait_for_url(re.compile(r".*/silences\?created=s_[0-9a-f]+"))
    sid = re.search(r"created=(s_[0-9a-f]+)", page.url).group(1)
    row = page.locator(f"tr#{sid}").inner_text()
    assert "resource=vm-5" in row and "ana" in row and "known, fixing" in row and "active" in row
    [(_, doc, _)] = open_server.app.store.state_list("silence")
    assert (doc["matchers"], doc["created_by"], doc["comment"]) == ({"resource": "vm-5"}, "ana", "known, fixing")
    assert doc["ends_at"] - doc["starts_at"] == 3600
    assert page.problems == []


def test_redrive_a_dead_notification_and_see_it_sent(keyed_server, receiver, page):
    answer = {"status": 500}

    def pager(_request):
        from werkzeug import Response

        return Response("", status=answer["status"])

    receiver.expect_request("/pager").respond_with_handler(pager)
    post_alert(keyed_server, alert(3, rule="disk-full", severity="Sev1"), key=OPERATOR_KEY)
    store = keyed_server.app.store
    wait_until(lambda: store.counts()["dead"] == 1, what="the page to die (the receiver answers 500)")
    answer["status"] = 200
    sign_in(page, keyed_server)
    page.get_by_role("link", name="Outbox").click()
    page.get_by_role("link", name=re.compile(r"^dead \(1\)")).click()
    row = page.locator("table.list tbody tr")
    assert row.count() == 1 and "on-call via pager-hook" in row.inner_text()
    row.get_by_role("button", name="Re-drive").click()
    page.get_by_text("1 notification(s) re-driven").wait_for()
    wait_until(lambda: store.counts()["sent"] == 1, what="the re-driven page to be sent")
    page.reload()  # the tab counts as of now
    page.get_by_role("link", name=re.compile(r"^sent \(1\)")).click()
    page.locator("table.list tbody tr").get_by_role("link", name="on-call via pager-hook").click()
    note = page.locator("article.note").first
    assert "sent" in note.locator("h3").inner_text()
    results = note.locator("table.attempts tbody").inner_text()
    assert [line.split("\t")[2] for line in results.splitlines()] == ["retry", "redriven", "delivered"]
    assert "HTTP 500" in results
    assert page.problems == []


def test_an_alert_with_a_script_tag_shows_as_text(open_server, page):
    script = "<script>window.pwned = 1</script>"
    post_alert(open_server, alert(4, rule=script, severity="Sev3",
                                  description='<img src=x onerror="window.pwned = 2"> evil'))
    page.goto(open_server.url + "/")
    link = page.locator("table.list tbody tr").get_by_role("link")
    assert script in link.inner_text()
    link.click()
    page.wait_for_url(re.compile(r".*/event\?id=.*"))
    assert script in page.locator("h1").inner_text()
    assert '<img src=x onerror="window.pwned = 2">' in page.locator("main").inner_text()
    page.locator(".card-preview.rendered").first.wait_for()
    assert page.evaluate("window.pwned") is None
    assert page.problems == []


# --- the acknowledge link: the page it opens, and its button ---

ACK_CONFIG = """
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
    app = App(loads(ACK_CONFIG, str(tmp_path / "routing.yaml")), tmp_path / "data", ack_secret=b"b" * 32)
    with RunningServer(app) as s:
        app.pipeline.acks.public_url = s.url
        yield s


def test_the_link_opens_a_page_whose_button_acknowledges(ack_server, page):
    app = ack_server.app
    post_alert(ack_server, alert(1, rule="gpu-<b>hot</b>", severity="Sev0"))
    [(event, _)] = app.store.list_events(EventFilter(), "", 5).events
    link = app.pipeline.acks.link(event, "pages", app.clock())
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
