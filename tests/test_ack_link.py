"""The acknowledge link on the real local server: what mail scanners and link unfurlers do (HEAD, GET)
changes nothing and the page still escalates; the confirmation page's button (a form POST)
acknowledges; scripts keep their JSON POST."""

from __future__ import annotations

import copy
import html
import re
import time

import pytest
import requests

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.pipeline import escalate
from tests.conftest import Clock, RunningServer, captured, load_fixture, wait_until

CONFIG = """
channels:
  pager: {type: webhook, url: "${CAPTURE_URL}"}
roles:
  on-call: {channels: [pager]}
  lead: {channels: [pager]}
routes:
  - name: pages
    match: {severity: {at_least: error}}
    roles: [on-call]
    escalate: {after: 15m, to: [lead]}
"""
# What Safe Links, Slack's and Teams' unfurlers send (they follow the link as a browser would).
SCANNER = {"User-Agent": "Mozilla/5.0 (compatible; Safe Links; +https://aka.ms/safelinks)", "Accept": "*/*"}


def alert(i: int, rule: str = "disk-full"):
    p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    p["data"]["essentials"].update(alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{i}",
                                   severity="Sev0", alertRule=rule, configurationItems=["vm-1"])
    return p


@pytest.fixture
def srv(tmp_path, httpserver, monkeypatch):
    monkeypatch.setenv("CAPTURE_URL", httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data("", status=202)
    clock = Clock(time.time())  # the dispatcher claims by the real time
    app = App(loads(CONFIG, str(tmp_path / "routing.yaml")), tmp_path / "data", ack_secret=b"s" * 32, clock=clock)
    with RunningServer(app) as s:
        app.pipeline.acks.public_url = s.url
        s.clock = clock
        yield s


def page_link(srv, httpserver, rule: str = "disk-full") -> str:
    assert requests.post(srv.url + "/api/alerts", json=alert(1, rule), timeout=5).json()["notifications"] == 1
    [page] = captured(httpserver, 1)
    return page["data"]["links"]["Acknowledge"]


def escalation_state(app) -> list[str]:
    return [doc["state"] for _, doc, _ in app.store.state_list(escalate.KIND)]


def lead_notices(app) -> list:
    return [n for status in ("pending", "sent", "held", "dead") for n in app.store.list(status) if n.role == "lead"]


def test_scanner_head_and_get_change_nothing_and_the_page_escalates(srv, httpserver):
    link = page_link(srv, httpserver)
    head = requests.head(link, headers=SCANNER, timeout=5)
    assert head.status_code == 200 and head.content == b""
    for _ in range(3):  # scanners fetch more than once (and unfurlers again on every share)
        got = requests.get(link, headers=SCANNER, timeout=5)
        assert got.status_code == 200
        assert "Acknowledge this page?" in got.text and "Fired: disk-full on vm-1" in got.text
    assert escalation_state(srv.app) == ["waiting"]
    assert srv.app.store.state_list(escalate.ACK_KIND) == []
    srv.clock.t += 15 * 60 + 1                       # nobody pressed the button: the lead hears of it
    wait_until(lambda: escalation_state(srv.app) == ["escalated"], what="the escalation")  # the dispatcher's tick
    # the state is claimed first, the escalation's notice taken in right after: wait for both
    wait_until(lambda: lead_notices(srv.app), what="the lead's notice")
    assert [srv.app.store.get_event(n.event_id).title for n in lead_notices(srv.app)] == [
        "Not acknowledged after 15 min: Fired: disk-full on vm-1"]


def test_the_pages_button_acknowledges_and_stops_the_escalation(srv, httpserver):
    link = page_link(srv, httpserver)
    shown = requests.get(link + "&by=ana", timeout=5)
    form = re.search(r'<form method="post"><input type="hidden" name="token" value="([^"]+)">', shown.text)
    assert form, shown.text
    token = html.unescape(form.group(1))
    assert token == link.split("token=", 1)[1]
    assert 'name="by"' in shown.text and 'value="ana"' in shown.text
    # the browser posts the form back to the page's own URL, with the page's own origin
    done = requests.post(link, data={"token": token, "by": "ana"},
                         headers={"Origin": srv.url, "Sec-Fetch-Site": "same-origin"}, timeout=5)
    assert done.status_code == 200 and done.headers["Content-Type"].startswith("text/html")
    assert "<h1>Acknowledged</h1>" in done.text and "Acknowledged by ana: Fired: disk-full on vm-1" in done.text
    assert escalation_state(srv.app) == ["acknowledged"]
    assert [b["data"]["kind"] for b in captured(httpserver, 2)] == ["alert.fired", "alert.acknowledged"]
    srv.clock.t += 3600
    srv.app.tick()
    assert escalation_state(srv.app) == ["acknowledged"] and lead_notices(srv.app) == []
    again = requests.get(link, timeout=5)
    assert again.status_code == 409 and "already acknowledged by ana" in again.text
    assert "<form" not in again.text


def test_json_post_keeps_working_for_scripts(srv, httpserver):
    link = page_link(srv, httpserver)
    token = link.split("token=", 1)[1]
    done = requests.post(srv.url + "/api/ack", json={"token": token, "by": "bot\u001b\u202e"}, timeout=5)
    assert done.status_code == 200
    assert done.json() == {"acknowledged": "Acknowledged by bot: Fired: disk-full on vm-1"}
    assert requests.post(srv.url + "/api/ack", json={"token": token}, timeout=5).json() == {
        "error": "already acknowledged"}
    assert requests.post(srv.url + "/api/ack", json={"token": ["x"]}, timeout=5).status_code == 400
    assert requests.post(srv.url + "/api/ack", data=b"[" * 100_000, timeout=5).status_code == 400


def test_bad_tokens_show_why_without_a_button(srv, httpserver):
    link = page_link(srv, httpserver)
    forged = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")
    for url, status, why in [(forged, 403, "bad signature"), (srv.url + "/api/ack?token=x", 400, "malformed"),
                             (srv.url + "/api/ack", 400, "has no token")]:
        got = requests.get(url, timeout=5)
        assert got.status_code == status and why in got.text and "<form" not in got.text, url
        assert requests.head(url, timeout=5).status_code == status
    srv.clock.t += escalate.TOKEN_TTL + 1
    expired = requests.get(link, timeout=5)
    assert expired.status_code == 403 and "expired" in expired.text
    assert srv.app.store.state_list(escalate.ACK_KIND) == []


def test_the_title_on_the_page_is_escaped(srv, httpserver):
    link = page_link(srv, httpserver, rule='<img src=x onerror="alert(1)">')
    shown = requests.get(link, timeout=5)
    assert shown.status_code == 200
    assert "<img" not in shown.text and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in shown.text
    assert shown.headers["Content-Security-Policy"] == (
        "default-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
    assert shown.headers["Referrer-Policy"] == "no-referrer"
    wait_until(lambda: escalation_state(srv.app) == ["waiting"], what="the escalation still waiting")
