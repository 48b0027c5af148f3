"""`alertrouter send` to a router that wants a key: --key, ALERTROUTER_API_KEY, ?code= in --url, and
how the endpoint path joins a base URL; the key is never printed."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from alertrouter.http.auth import Authenticator
from alertrouter.cli.main import _endpoint_url, main
from alertrouter.settings import Settings
from tests.conftest import FIXTURES, RunningServer, captured

KEY = "cli-send-key-7f3a9c2e51b84d06"
BUDGET = str(next(FIXTURES.rglob("monitor-budget-fired.test-action.json")))
RUN_DONE = str(next(FIXTURES.rglob("aml-runcompleted.cloudevents.json")))


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env={"ALERTROUTER_API_KEY": None, **(env or {})})


@pytest.fixture
def keyed_server(capture_app):
    with RunningServer(capture_app, auth=Authenticator.from_settings(Settings(api_key=KEY))) as s:
        yield s


def assert_no_key(result):
    assert KEY not in result.output and KEY not in (result.stderr or "")


def test_without_a_key_the_router_refuses_and_the_advice_says_how(keyed_server, httpserver):
    r = run("send", BUDGET, "--url", keyed_server.url)
    assert r.exit_code == 1
    assert r.stdout.startswith("POST /api/alerts: HTTP 401")
    assert "no key was given: pass --key KEY or set ALERTROUTER_API_KEY" in r.stderr
    assert captured(httpserver, 0) == []


def test_key_option_is_sent_as_the_functions_key_header(keyed_server, httpserver):
    r = run("send", BUDGET, "--url", keyed_server.url, "--key", KEY)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("POST /api/alerts: HTTP 200")
    assert_no_key(r)
    assert [b["data"]["kind"] for b in captured(httpserver, 1)] == ["alert.fired"]


def test_key_from_the_environment(keyed_server, httpserver):
    r = run("send", RUN_DONE, "--url", keyed_server.url, env={"ALERTROUTER_API_KEY": KEY})
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("POST /api/eventgrid: HTTP 200")
    assert_no_key(r)
    assert [b["data"]["kind"] for b in captured(httpserver, 1)] == ["run.completed"]


def test_code_in_the_url_goes_after_the_path(keyed_server, httpserver):
    r = run("send", BUDGET, "--url", f"{keyed_server.url}/?code={KEY}")
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("POST /api/alerts: HTTP 200")
    assert_no_key(r)
    assert len(captured(httpserver, 1)) == 1


def test_a_wrong_key_is_refused_and_not_echoed(keyed_server):
    wrong = KEY[::-1]
    r = run("send", BUDGET, "--url", keyed_server.url, "--key", wrong)
    assert r.exit_code == 1
    assert "the key given was refused" in r.stderr
    assert wrong not in r.output and wrong not in r.stderr


def test_unreachable_router_error_hides_the_code():
    r = run("send", BUDGET, "--url", f"http://127.0.0.1:9/?code={KEY}")
    assert r.exit_code == 1
    assert "cannot reach the router at http://127.0.0.1:9/?<query hidden>" in r.stderr
    assert_no_key(r)


@pytest.mark.parametrize("base, path, expected", [
    ("http://127.0.0.1:7071", "/api/alerts", "http://127.0.0.1:7071/api/alerts"),
    ("http://127.0.0.1:7071/", "/api/eventgrid", "http://127.0.0.1:7071/api/eventgrid"),
    ("https://app.azurewebsites.net?code=abc%3D%3D", "/api/alerts",
     "https://app.azurewebsites.net/api/alerts?code=abc%3D%3D"),
    ("https://app.azurewebsites.net/?code=abc&x=1", "/api/eventgrid",
     "https://app.azurewebsites.net/api/eventgrid?code=abc&x=1"),
    ("https://proxy.example/router/?code=abc", "/api/alerts", "https://proxy.example/router/api/alerts?code=abc"),
    ("https://app.azurewebsites.net/api/alerts?code=abc", "/api/alerts",
     "https://app.azurewebsites.net/api/alerts?code=abc"),
    (" http://localhost:7071/API/EventGrid ", "/api/eventgrid", "http://localhost:7071/api/eventgrid"),
])
def test_endpoint_url(base, path, expected):
    assert _endpoint_url(base, path) == expected


@pytest.mark.parametrize("base, message", [
    ("https://app.azurewebsites.net/api/eventgrid?code=abc", "names /api/eventgrid, but this payload goes to /api/alerts"),
    ("127.0.0.1:7071", "is not an http(s) URL"),
    ("ftp://host/", "is not an http(s) URL"),
])
def test_endpoint_url_refuses(base, message):
    with pytest.raises(click.BadParameter, match=re.escape(message)) as caught:
        _endpoint_url(base, "/api/alerts")
    assert "abc" not in str(caught.value)
