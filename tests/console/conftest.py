"""The console on a real local server: fixtures post real payloads through the HTTP API, a
requests session plays the browser for the plain HTTP tests."""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path

import pytest
import requests

from alertrouter.app import App
from alertrouter.http.auth import Authenticator, KeyCheck
from alertrouter.config.load import loads
from alertrouter.console import build_console
from tests.conftest import RunningServer, load_fixture

CHROMIUM = os.environ.get("ALERTROUTER_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium():
    """One Chromium for the session's browser tests (Debian's; Playwright's own download is not used)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


OPERATOR_KEY = "operator-key-7f3a"
# Alerts page the on-call role through a webhook that answers 500 (so they die fast), everything
# else goes to a Teams channel and an SMTP channel on the receiver; secrets sit in URLs and keys.
CONSOLE_CONFIG = """
version: 1
channels:
  ops-teams:
    type: teams
    url: ${OPS_TEAMS_URL}
  pager-hook:
    type: webhook
    url: ${PAGER_HOOK_URL}
    retry: {max_attempts: 1}
  mail:
    type: smtp
    host: 127.0.0.1
    port: 2525
    sender: alerts@contoso.com
    to: [ml@contoso.com]
    password: ${SMTP_PASSWORD}
roles:
  on-call:
    channels: [pager-hook]
  data-scientist:
    channels: [ops-teams, mail]
routes:
  - name: pages
    match: {kind: alert.fired, severity: {at_least: error}}
    roles: [on-call]
  - name: runs
    match: {source: aml}
    roles: [data-scientist]
default_route:
  roles: [data-scientist]
"""
SECRET_QUERY = "sig=TopSecretSig123"


@pytest.fixture
def console_env(tmp_path, monkeypatch, receiver):
    """The receiver's /teams answers 202 and /pager 500 until told otherwise."""
    monkeypatch.setenv("OPS_TEAMS_URL", receiver.url_for("/teams") + "?" + SECRET_QUERY)
    monkeypatch.setenv("PAGER_HOOK_URL", receiver.url_for("/pager") + "?" + SECRET_QUERY)
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-Pa55word")
    receiver.expect_request("/teams").respond_with_data("", status=202)
    return App(loads(CONSOLE_CONFIG, str(tmp_path / "routing.yaml")), tmp_path / "data")


@pytest.fixture
def open_server(console_env):
    """No key configured (loopback): everyone is the local operator."""
    with RunningServer(console_env, lease_seconds=2.0) as s:
        yield s


@pytest.fixture
def keyed_server(console_env):
    """The operator key configured and reads not open (as on a non-loopback bind)."""
    auth = Authenticator(KeyCheck(OPERATOR_KEY))
    console = build_console(console_env, auth, open_reads=False)
    with RunningServer(console_env, auth=auth, console=console, lease_seconds=2.0) as s:
        yield s


def pytest_terminal_summary(terminalreporter, config):
    """Say where the browser tests' screenshots are (the run's basetemp)."""
    factory = getattr(config, "_tmp_path_factory", None)
    shots = factory.getbasetemp() / "screenshots" if factory is not None else None
    if shots is not None and shots.is_dir():
        terminalreporter.write_line(f"console screenshots: {shots}")


def alert(n: int, rule: str = "cpu-high", resource: str = "vm-7", severity: str = "Sev1",
          description: str = "CPU over 90%") -> dict:
    """An Azure Monitor metric alert (common schema) of its own id."""
    doc = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    e = doc["data"]["essentials"]
    e["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/a-{n}"
    e["alertRule"], e["severity"], e["description"] = rule, severity, description
    e["alertTargetIDs"] = [f"/subscriptions/s/resourcegroups/rg/providers/microsoft.compute/virtualmachines/{resource}"]
    e["configurationItems"] = [resource]
    return doc


def post_alert(server, doc: dict, key: str | None = None) -> dict:
    headers = {"Content-Type": "application/json", **({"x-functions-key": key} if key else {})}
    r = requests.post(server.url + "/api/alerts", data=json.dumps(doc), headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def post_run_failed(server, key: str | None = None) -> None:
    body = json.dumps(load_fixture("aml-runstatuschanged-failed.eventgrid.json"))
    headers = {"Content-Type": "application/json", "aeg-event-type": "Notification",
               **({"x-functions-key": key} if key else {})}
    r = requests.post(server.url + "/api/eventgrid", data=body, headers=headers, timeout=10)
    assert r.status_code == 200, r.text


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)
