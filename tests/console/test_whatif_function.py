"""The routing page's what-if through the Azure Functions console function (handlers/console.py,
behind Easy Auth): the multipart form arrives as the function's body, and the replay runs over
the Functions host's store."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import azure.functions as func
import pytest
import requests

from tests.conftest import indexed_functions, load_fixture

PRINCIPAL = {"x-ms-client-principal-name": "ana@contoso.com", "x-ms-client-principal-id": "00000000-0000-0000-0000-0"}
HOST = "https://app.azurewebsites.net"
# CAPTURE_CONFIG (tests/conftest.py) with its one route sending to nobody
TO_NOBODY = """version: 1
channels:
  capture:
    type: webhook
    url: ${CAPTURE_URL}
roles:
  everyone:
    channels: [capture]
routes:
  - name: all
    match: {}
    roles: []
"""


def call(name: str, req: func.HttpRequest) -> func.HttpResponse:
    return indexed_functions()[name].get_user_function()(req)


def console(method: str, path: str, headers: dict, body: bytes = b"") -> func.HttpResponse:
    return call("console", func.HttpRequest(method, HOST + "/api/console" + path, headers=headers, body=body,
                                            route_params={"path": path.lstrip("/")}))


def multipart(fields: dict) -> tuple[bytes, str]:
    prepared = requests.Request("POST", HOST, data=fields, files={"upload": ("", b"")}).prepare()
    return prepared.body, prepared.headers["Content-Type"]


@pytest.fixture
def easy_auth(functions_env, monkeypatch):
    monkeypatch.setenv("ALERTROUTER_CONSOLE__EASY_AUTH", "true")
    functions_env.reset()
    return functions_env


def test_what_if_through_the_function(easy_auth):
    doc = load_fixture("monitor-metric-static-fired.test-action.json")
    doc["data"]["essentials"]["firedDateTime"] = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    body = json.dumps(doc).encode()
    assert call("monitor_alerts", func.HttpRequest("POST", "/api/alerts", body=body)).status_code == 200
    page = console("GET", "/routing", PRINCIPAL)
    assert page.status_code == 200
    text = page.get_body().decode()
    assert 'action="/api/console/routing/whatif#what-if"' in text and 'enctype="multipart/form-data"' in text
    cookie = page.headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', text).group(1)
    form, content_type = multipart({"csrf": token, "config": TO_NOBODY})
    headers = {**PRINCIPAL, "cookie": cookie, "content-type": content_type}

    result = console("POST", "/routing/whatif", headers, form)
    assert result.status_code == 200, result.get_body()[:2000]
    html = result.get_body().decode()
    assert re.search(r"Replayed 1 event\(s\) from .* under routing\.yaml", html)
    assert "Events whose outcome changed: 1</h3>" in html
    assert "no longer reaches everyone" in html
    link = re.search(r'<a href="(/api/console/event\?id=[^"]+)"><code>', html).group(1)
    trail = call("console", func.HttpRequest("GET", HOST + link.split("?")[0], headers=PRINCIPAL, body=b"",
                                             params={"id": requests.utils.unquote(link.split("id=", 1)[1])},
                                             route_params={"path": "event"}))
    assert trail.status_code == 200 and "test-metricAlertRule" in trail.get_body().decode()

    # the console's own CSRF check (no local server guard in front of it here)
    assert console("POST", "/routing/whatif", {**PRINCIPAL, "content-type": content_type}, form).status_code == 403
    assert console("POST", "/routing/whatif", {**headers, "sec-fetch-site": "cross-site"}, form).status_code == 403
    # and Easy Auth's principal: without it nobody may run it
    assert console("POST", "/routing/whatif", {"cookie": cookie, "content-type": content_type}, form).status_code == 401
