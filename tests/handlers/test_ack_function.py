"""The `acknowledge` HTTP function under the Functions worker's own request objects: GET and HEAD
(what mail scanners send) show the confirmation page and change nothing; the page's POST acknowledges."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import azure.functions as func

from alertrouter.pipeline import escalate
from tests.conftest import captured, indexed_functions, load_fixture

CONFIG = """
version: 1
channels:
  capture: {type: webhook, url: "${CAPTURE_URL}"}
roles:
  on-call: {channels: [capture]}
  lead: {channels: [capture]}
routes:
  - name: pages
    match: {}
    roles: [on-call]
    escalate: {after: 15m, to: [lead]}
"""


def call(name: str, req: func.HttpRequest) -> func.HttpResponse:
    return indexed_functions()[name].get_user_function()(req)


def test_acknowledge_function_get_head_then_post(functions_env, httpserver, tmp_path, monkeypatch):
    (tmp_path / "routing.yaml").write_text(CONFIG)
    monkeypatch.setenv("ALERTROUTER_ACK_SECRET", "k" * 64)
    monkeypatch.setenv("ALERTROUTER_PUBLIC_URL", "https://alerts.example.net")
    functions_env.reset()
    body = json.dumps(load_fixture("monitor-metric-static-fired.test-action.json")).encode()
    assert call("monitor_alerts", func.HttpRequest("POST", "/api/alerts", body=body)).status_code == 200
    link = captured(httpserver, 1)[0]["data"]["links"]["Acknowledge"]
    token = urlsplit(link).query.removeprefix("token=")
    for method in ("HEAD", "GET", "GET"):
        resp = call("acknowledge", func.HttpRequest(method, link, body=b"", params={"token": token}))
        assert resp.status_code == 200, method
        assert (b"Acknowledge this page?" in resp.get_body()) == (method == "GET")
    store = functions_env.api().app.store
    assert [d["state"] for _, d, _ in store.state_list(escalate.KIND)] == ["waiting"]
    done = call("acknowledge", func.HttpRequest(
        "POST", link, body=f"token={token}&by=ana".encode(), params={"token": token},
        headers={"Content-Type": "application/x-www-form-urlencoded"}))
    assert done.status_code == 200 and b"Acknowledged by ana" in done.get_body()
    assert done.mimetype == "text/html; charset=utf-8"
    assert [d["state"] for _, d, _ in store.state_list(escalate.KIND)] == ["acknowledged"]
