"""The console as an Azure Functions HTTP function behind App Service authentication: the
principal headers Easy Auth sets are the identity; without Easy Auth turned on nobody gets in."""

from __future__ import annotations

import json
import re

import azure.functions as func
import pytest

from tests.conftest import indexed_functions, load_fixture

PRINCIPAL = {"x-ms-client-principal-name": "ana@contoso.com", "x-ms-client-principal-id": "00000000-0000-0000-0000-0"}


def call(name: str, req: func.HttpRequest) -> func.HttpResponse:
    return indexed_functions()[name].get_user_function()(req)


def get(path: str, headers: dict | None = None, params: dict | None = None) -> func.HttpResponse:
    return call("console", func.HttpRequest("GET", "https://app.azurewebsites.net" + path, headers=headers or {},
                                            params=params or {}, body=b"", route_params={"path": path}))


@pytest.fixture
def easy_auth(functions_env, monkeypatch):
    monkeypatch.setenv("ALERTROUTER_CONSOLE__EASY_AUTH", "true")
    functions_env.reset()
    return functions_env


def test_pages_need_the_easy_auth_principal(easy_auth):
    body = json.dumps(load_fixture("monitor-metric-static-fired.test-action.json")).encode()
    assert call("monitor_alerts", func.HttpRequest("POST", "/api/alerts", body=body)).status_code == 200
    assert get("/api/console/").status_code == 401
    page = get("/api/console/", PRINCIPAL)
    assert page.status_code == 200
    text = page.get_body().decode()
    assert "ana@contoso.com" in text and "test-metricAlertRule" in text
    assert 'href="/api/console/event?id=' in text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for path in ("/api/console/status", "/api/console/routing", "/api/console/outbox", "/api/console/silences"):
        assert get(path, PRINCIPAL).status_code == 200, path
    css = get("/api/console/static/console/console.css")
    assert css.status_code == 200 and css.mimetype.startswith("text/css")
    assert get("/api/console/nope", PRINCIPAL).status_code == 404


def test_a_change_through_the_function_needs_the_cookie_and_token(easy_auth):
    page = get("/api/console/silences", PRINCIPAL, {"preview": "1", "matchers": "resource=vm-7"})
    cookie = page.headers["Set-Cookie"].split(";")[0]
    token = re.search(r'name="csrf" value="([^"]+)"', page.get_body().decode()).group(1)
    form = b"matchers=resource%3Dvm-7&duration=1h&author=ana&comment=reboot&csrf=" + token.encode()
    post = lambda headers: call("console", func.HttpRequest(  # noqa: E731
        "POST", "https://app.azurewebsites.net/api/console/silences", body=form, route_params={"path": "silences"},
        headers={"content-type": "application/x-www-form-urlencoded", **headers}))
    assert post(PRINCIPAL).status_code == 403  # no cookie: the token is not this browser's
    assert post({"cookie": cookie}).status_code == 401  # no identity
    created = post({**PRINCIPAL, "cookie": cookie})
    assert created.status_code == 303 and created.headers["Location"].startswith("/api/console/silences?created=s_")


def test_without_easy_auth_nobody_gets_in(functions_env):
    assert get("/api/console/", PRINCIPAL).status_code == 401
    assert get("/api/console/status").status_code == 401
