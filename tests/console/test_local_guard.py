"""The local key-less server (as `make run` starts it) on loopback, against what a web page the operator
visits can send it: a foreign Host (DNS rebinding), cross-site writes (a form, or a `text/plain`
fetch with a foreign Origin or Sec-Fetch-Site). Azure's own posts carry neither header and pass."""

from __future__ import annotations

import json

import pytest
import requests

from alertrouter.http.hostguard import HostGuard, split_host
from tests.conftest import load_fixture
from tests.console.conftest import alert, csrf_of

EVIL = "http://evil.example"


def test_a_foreign_host_gets_nothing(open_server):
    url = open_server.url
    for path in ("/", "/silences", "/routing", "/api/health", "/api/silences"):
        r = requests.get(url + path, headers={"Host": f"evil.example:{open_server.port}"}, timeout=5)
        assert r.status_code == 400, path
        assert "csrf" not in r.text and "<form" not in r.text
        message = r.json()["error"]
        assert message.startswith(f"Host 'evil.example:{open_server.port}' is not a name this server answers to")
        assert "ALERTROUTER_ALLOWED_HOSTS" in message
    post = requests.post(url + "/api/alerts", data=json.dumps(alert(1)), timeout=5,
                         headers={"Host": "evil.example", "Content-Type": "text/plain"})
    assert post.status_code == 400
    assert open_server.app.store.counts()["events"] == 0
    for host in (f"localhost:{open_server.port}", f"127.0.0.1:{open_server.port}", f"[::1]:{open_server.port}",
                 "LOCALHOST"):
        assert requests.get(url + "/silences", headers={"Host": host}, timeout=5).status_code == 200, host


@pytest.mark.parametrize("headers", [
    {"Origin": EVIL},
    {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},                 # a sandboxed frame
    {"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-site"},  # another local app
])
def test_cross_site_writes_to_the_api_are_refused(open_server, headers):
    url, store = open_server.url, open_server.app.store
    fake = requests.post(url + "/api/alerts", data=json.dumps(alert(1)),
                         headers={"Content-Type": "text/plain", **headers}, timeout=5)
    assert fake.status_code == 403 and fake.json()["error"].startswith("refused a POST from ")
    grid = requests.post(url + "/api/eventgrid", data=json.dumps(load_fixture("aml-runstatuschanged-failed.eventgrid.json")),
                         headers={"Content-Type": "text/plain", "aeg-event-type": "Notification", **headers}, timeout=5)
    assert grid.status_code == 403
    everything = requests.post(url + "/api/silences", data=json.dumps(
        {"matchers": {"severity": {"regex": ".*"}}, "duration": "30d", "created_by": "x", "comment": "x"}),
        headers={"Content-Type": "text/plain", **headers}, timeout=5)
    assert everything.status_code == 403
    assert requests.get(url + "/api/silences", timeout=5).json()["silences"] == []
    assert store.counts()["events"] == 0
    made = requests.post(url + "/api/silences", json={"matchers": {"resource": "vm-7"}, "duration": "1h",
                                                      "created_by": "ana", "comment": "swap"}, timeout=5)
    assert made.status_code == 201                             # a script: no Origin, no Sec-Fetch-Site
    sid = made.json()["id"]
    expire = requests.post(url + f"/api/silences/{sid}/expire", headers=headers, timeout=5)
    assert expire.status_code == 403
    [shown] = requests.get(url + "/api/silences", timeout=5).json()["silences"]
    assert shown["active"] is True


def test_cross_site_console_forms_are_refused(open_server):
    url, s = open_server.url, requests.Session()
    token = csrf_of(s.get(url + "/silences", params={"preview": "1", "matchers": "severity=~.*"}, timeout=5).text)
    form = {"csrf": token, "matchers": "severity=~.*", "duration": "30d", "author": "x", "comment": "x"}
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "null", "Sec-Fetch-Site": "same-site"},
                    {"Origin": EVIL}):
        r = s.post(url + "/silences", data=form, headers=headers, timeout=5, allow_redirects=False)
        assert r.status_code == 403, headers
    assert requests.get(url + "/api/silences", timeout=5).json()["silences"] == []
    # the console's own form, as a browser posts it: same-origin (Origin null under no-referrer)
    ok = s.post(url + "/silences", data=form, headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
                timeout=5, allow_redirects=False)
    assert ok.status_code == 303
    [made] = requests.get(url + "/api/silences", timeout=5).json()["silences"]
    expire = s.post(url + "/silences/expire", data={"csrf": token, "id": made["id"]},
                    headers={"Sec-Fetch-Site": "cross-site"}, timeout=5, allow_redirects=False)
    assert expire.status_code == 403
    assert requests.get(url + "/api/silences", timeout=5).json()["silences"][0]["active"] is True
    same = s.post(url + "/silences/expire", data={"csrf": token, "id": made["id"]},
                  headers={"Origin": url, "Sec-Fetch-Site": "same-origin"}, timeout=5, allow_redirects=False)
    assert same.status_code == 303


def test_server_to_server_posts_and_same_origin_pass(open_server):
    url = open_server.url
    azure = requests.post(url + "/api/alerts", data=json.dumps(alert(1)), timeout=5,
                          headers={"Content-Type": "application/json", "User-Agent": "IcM notification service"})
    assert azure.status_code == 200 and azure.json()["accepted"]
    grid = requests.post(url + "/api/eventgrid", data=json.dumps(load_fixture("aml-runstatuschanged-failed.eventgrid.json")),
                         headers={"Content-Type": "application/json", "aeg-event-type": "Notification"}, timeout=5)
    assert grid.status_code == 200 and grid.json()["accepted"] == 1
    same = requests.post(url + "/api/alerts", data=json.dumps(alert(2)), timeout=5,
                         headers={"Origin": url.replace("127.0.0.1", "localhost"), "Host": f"localhost:{open_server.port}"})
    assert same.status_code == 200
    handshake = requests.options(url + "/api/eventgrid", headers={"WebHook-Request-Origin": "eventgrid.azure.net",
                                                                  "Origin": EVIL}, timeout=5)
    assert handshake.status_code == 200                         # OPTIONS changes nothing


def test_which_names_a_bind_answers_to():
    loop = HostGuard("127.0.0.1", 7071, "http://127.0.0.1:7071")
    assert [loop.host_ok(n) for n in ("127.0.0.1", "localhost", "::1", "10.0.0.5", "evil.example")] == [
        True, True, True, False, False]
    every = HostGuard("0.0.0.0", 7071, "https://alerts.contoso.com", "proxy.contoso.com, Other.Example:8443")
    assert [every.host_ok(n) for n in ("10.0.0.5", "fe80::1", "alerts.contoso.com", "proxy.contoso.com",
                                       "other.example", "evil.example")] == [True, True, True, True, True, False]
    assert every.refusal("POST", "http", {"host": "alerts.contoso.com", "origin": "https://alerts.contoso.com"}) is None
    assert HostGuard("127.0.0.1", 7071, "", "*").host_ok("anything.example")
    assert split_host("[::1]:7071") == ("::1", 7071) and split_host("LocalHost.:80") == ("localhost", 80)
    for bad in ("a/b", "x@y", "[::1", "h:port"):
        with pytest.raises(ValueError):
            split_host(bad)
    status, message = loop.refusal("GET", "http", {"host": "a b"})
    assert (status, message) == (400, "malformed Host header 'a b'")


def test_serve_answers_to_configured_names(tmp_path):
    """`alertrouter serve` as `make run` starts it, told of a proxy's name and its public URL."""
    from tests.console.test_serve import serve

    proc, base = serve(tmp_path, ALERTROUTER_ALLOWED_HOSTS="proxy.example, other.example:8443",
                       ALERTROUTER_PUBLIC_URL="https://alerts.contoso.com")
    try:
        for host, status in [("proxy.example", 200), ("other.example:9999", 200), ("alerts.contoso.com", 200),
                             ("localhost", 200), ("evil.example", 400)]:
            assert requests.get(base + "/api/health", headers={"Host": host}, timeout=5).status_code == status, host
        behind = requests.post(base + "/api/alerts", data=json.dumps(alert(1)), timeout=5, headers={
            "Host": "alerts.contoso.com", "Origin": "https://alerts.contoso.com", "Sec-Fetch-Site": "same-origin"})
        assert behind.status_code == 200                        # the public origin, through a TLS proxy
        other = requests.post(base + "/api/alerts", data=json.dumps(alert(2)), timeout=5,
                              headers={"Host": "proxy.example", "Origin": "https://evil.example"})
        assert other.status_code == 403 and "ALERTROUTER_PUBLIC_URL" in other.json()["error"]
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_refuses_a_name_list_it_cannot_read(tmp_path):
    from click.testing import CliRunner

    from alertrouter.cli.main import main
    from tests.conftest import ROOT

    r = CliRunner().invoke(main, ["serve", "--config", str(ROOT / "routing.yaml"), "--data-dir", str(tmp_path),
                                  "--allowed-hosts", "proxy.example, http://x/"], env={"ALERTROUTER_API_KEY": ""})
    assert r.exit_code == 1
    assert r.stderr.strip().endswith("error: ALERTROUTER_ALLOWED_HOSTS: 'http://x/' is not a host name; write names "
                                     "or name:port, comma-separated (or * for any)")
