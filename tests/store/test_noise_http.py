"""Silences and acknowledgements over HTTP against the real local server, on both stores."""

from __future__ import annotations

import copy

import pytest
import requests

from alertrouter.app import App
from alertrouter.config.load import loads
from tests.conftest import RunningServer, captured, load_fixture, wait_until

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
  - {name: rest, match: {}, roles: [on-call]}
"""


def alert(i: int, severity: str = "Sev0", resource: str = "vm-1"):
    p = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    p["data"]["essentials"].update(alertId=f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{i}",
                                   severity=severity, configurationItems=[resource])
    return p


@pytest.fixture
def srv(tmp_path, httpserver, monkeypatch, store):
    monkeypatch.setenv("CAPTURE_URL", httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data("", status=202)
    app = App(loads(CONFIG, str(tmp_path / "routing.yaml")), tmp_path / "data", ack_secret=b"s" * 32, store=store)
    with RunningServer(app) as s:
        app.pipeline.acks.public_url = s.url
        yield s


def test_acknowledge_link_in_the_page_works_once(srv, httpserver):
    assert requests.post(srv.url + "/api/alerts", json=alert(1), timeout=5).json()["notifications"] == 1
    [page] = captured(httpserver, 1)
    link = page["data"]["links"]["Acknowledge"]
    assert link.startswith(srv.url + "/api/ack?token=")
    shown = requests.get(link + "&by=ana", timeout=5)        # the link opens a page with a button
    assert shown.status_code == 200 and "Fired: test-metricAlertRule on vm-1" in shown.text
    assert '<form method="post">' in shown.text and 'value="ana"' in shown.text
    assert shown.headers["Content-Security-Policy"].startswith("default-src 'none'; form-action 'self'")
    token = link.split("token=", 1)[1]
    first = requests.post(link, data={"token": token, "by": "ana"}, timeout=5)   # the button
    assert first.status_code == 200 and "Acknowledged by ana: Fired: test-metricAlertRule on vm-1" in first.text
    kinds = [b["data"]["kind"] for b in captured(httpserver, 2)]
    assert kinds == ["alert.fired", "alert.acknowledged"]      # announced to the route's roles
    again = requests.post(link, data={"token": token}, timeout=5)
    assert again.status_code == 409 and "already acknowledged" in again.text
    assert "already acknowledged by ana" in requests.get(link, timeout=5).text
    forged = requests.get(link[:-3] + ("xyz" if not link.endswith("xyz") else "abc"), timeout=5)
    assert forged.status_code == 403
    assert requests.post(srv.url + "/api/ack", json={"token": "garbage"}, timeout=5).status_code == 400


def test_silence_over_http(srv, httpserver):
    bad = requests.post(srv.url + "/api/silences", json={"matchers": {}, "created_by": "ana", "comment": "x"},
                        timeout=5)
    assert bad.status_code == 400 and "at least one matcher" in bad.json()["error"]
    made = requests.post(srv.url + "/api/silences", timeout=5, json={
        "matchers": {"resource": "vm-9"}, "duration": "2h", "created_by": "ana", "comment": "disk swap"})
    assert made.status_code == 201
    sid = made.json()["id"]
    listed = requests.get(srv.url + "/api/silences", timeout=5).json()["silences"]
    assert [(s["id"], s["active"]) for s in listed] == [(sid, True)]
    requests.post(srv.url + "/api/alerts", json=alert(2, resource="vm-9"), timeout=5)
    requests.post(srv.url + "/api/alerts", json=alert(3, resource="vm-1"), timeout=5)
    assert len(captured(httpserver, 1)) == 1
    [held] = srv.app.store.list("held")
    assert held.last_detail == f"silenced by {sid} (disk swap, by ana)"
    expired = requests.post(srv.url + f"/api/silences/{sid}/expire", timeout=5)
    assert expired.status_code == 200 and expired.json()["expired_at"]
    assert requests.post(srv.url + "/api/silences/nope/expire", timeout=5).status_code == 404
    requests.post(srv.url + "/api/alerts", json=alert(4, resource="vm-9"), timeout=5)
    wait_until(lambda: len(httpserver.log) == 2, what="the alert after the silence")
