"""The console's cookies are keyed with a random secret kept with the data, not with the API key (the
cookie anyone gets from GET /login was an offline oracle for the key); sign-in is rate-limited; the
secrets and the SQLite files (their WAL holds acknowledge tokens) are readable by their owner only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import requests

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.console import build_console
from alertrouter.console.limits import FailureLimiter
from alertrouter.console.security import COOKIE
from alertrouter.http.api import Request
from alertrouter.settings import Settings
from alertrouter.store.sqlite import SqliteStore
from tests.console.conftest import CONSOLE_CONFIG, alert, csrf_of
from tests.console.test_serve import serve

KEY = "hunter2"  # a weak operator key: the kind an offline oracle recovers


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def key_derived_mac(body: str) -> str:
    """The MAC the console used to put in its cookies: keyed by a hash of the API key."""
    old = hashlib.sha256(b"alertrouter-console\x00" + KEY.encode()).digest()
    return hmac.new(old, f"session\x00{body}".encode(), hashlib.sha256).hexdigest()[:40]


def forged_cookie(who: str) -> str:
    doc = {"sid": "planted", "who": who, "exp": time.time() + 3600}
    body = base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")
    return f"{body}.{key_derived_mac(body)}"


def stop(proc) -> None:
    proc.terminate()
    proc.wait(10)


def test_login_cookie_is_no_oracle_for_the_key_and_survives_a_restart(tmp_path):
    env = {"ALERTROUTER_API_KEY": KEY, "ALERTROUTER_CONSOLE__PRIVATE_READS": "true"}
    proc, base = serve(tmp_path, **env)
    try:
        s = requests.Session()
        page = s.get(base + "/login", timeout=5)
        body, _, mac = s.cookies[COOKIE].partition(".")
        assert mac and mac != key_derived_mac(body)          # a guess of the key no longer checks against it
        forged = requests.get(base + "/", cookies={COOKIE: forged_cookie("mallory (operator key)")}, timeout=5)
        assert forged.status_code == 401
        signed_in = s.post(base + "/login", data={"csrf": csrf_of(page.text), "key": KEY, "name": "ana", "next": "/"},
                           timeout=5, allow_redirects=False)
        assert signed_in.status_code == 303
        assert s.get(base + "/", timeout=5).status_code == 200
        data = tmp_path / "data"
        requests.post(base + "/api/alerts", json=alert(1), headers={"x-functions-key": KEY}, timeout=5)
        secret = data / "console-secret"
        assert len(secret.read_bytes()) == 32 and mode(secret) == 0o600
        assert mode(data / "ack-secret") == 0o600
        for name in ("alertrouter.db", "alertrouter.db-wal", "alertrouter.db-shm"):
            assert mode(data / name) == 0o600, name
    finally:
        stop(proc)
    proc, base = serve(tmp_path, **env)                      # the same data dir: the same key
    try:
        assert s.get(base + "/", timeout=5).status_code == 200
        assert requests.get(base + "/", timeout=5).status_code == 401
    finally:
        stop(proc)


def test_sign_in_is_rate_limited_per_client(keyed_server):
    url, s = keyed_server.url, requests.Session()
    token = csrf_of(s.get(url + "/login", timeout=5).text)

    def login(key: str, **headers):
        return s.post(url + "/login", data={"csrf": token, "key": key, "next": "/"}, headers=headers, timeout=5,
                      allow_redirects=False)

    for i in range(5):
        assert login(f"guess-{i}").status_code == 401
    for spoof in ({}, {"x-alertrouter-client": "10.9.8.7"}):  # the server's own header cannot be sent in
        limited = login("operator-key-7f3a", **spoof)
        assert limited.status_code == 429, spoof
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "Too many wrong keys: try again in" in limited.text
    assert s.get(url + "/", timeout=5).status_code == 401    # not signed in
    # another address (uvicorn takes X-Forwarded-For from a proxy on loopback) has its own five…
    assert login("operator-key-7f3a", **{"X-Forwarded-For": "10.0.0.1"}).status_code == 303
    # …but rotating addresses does not multiply guesses: 30 wrong keys a minute from all of them
    s.cookies.clear()
    token = csrf_of(s.get(url + "/login", timeout=5).text)
    for i in range(25):
        assert login(f"guess-{i}", **{"X-Forwarded-For": f"10.0.1.{i}"}).status_code == 401
    assert login("operator-key-7f3a", **{"X-Forwarded-For": "10.0.2.1"}).status_code == 429


def test_failure_limiter_window_clients_and_bound():
    now = [1000.0]
    limiter = FailureLimiter(limit=3, window=60, max_clients=2, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("a") == 0
        limiter.failed("a")
    assert limiter.retry_after("a") == 60 and limiter.retry_after("b") == 0
    now[0] += 59.5
    assert limiter.retry_after("a") == 1
    now[0] += 1
    assert limiter.retry_after("a") == 0                    # the oldest failure left the window
    for _ in range(3):
        limiter.failed("a")
    limiter.succeeded("a")
    assert limiter.retry_after("a") == 0
    for client in ("x", "y", "z"):
        limiter.failed(client)
    assert len(limiter._failures) == 2                      # bounded: the oldest address forgotten


def test_functions_instances_agree_without_the_api_key(tmp_path):
    """Under the Functions host the key comes from ALERTROUTER_CONSOLE__SECRET, else is derived from
    the acknowledge secret (shared by every instance), never from the API key."""
    loaded = loads(CONSOLE_CONFIG, str(tmp_path / "routing.yaml"), env={})
    settings = Settings(api_key=KEY, ack_secret="a" * 64, _env_file=None)
    apps = [App(loaded, tmp_path / f"d{i}", ack_secret=settings.ack_secret.encode()) for i in range(2)]
    one, two = (build_console(a, settings=settings, allow_open=False).security for a in apps)
    cookie = one.set_cookie(one.new_session("ana")).split(";")[0]
    req = Request("GET", "/", {"cookie": cookie})
    assert two.session(req).who == "ana"
    body, _, mac = cookie.split("=", 1)[1].partition(".")
    assert mac != key_derived_mac(body)
    own = build_console(apps[0], settings=Settings(console={"secret": "s" * 32}, _env_file=None)).security
    assert own.session(req) is None


def test_sqlite_files_are_made_and_kept_owner_only(tmp_path):
    old = os.umask(0o022)
    try:
        fresh = SqliteStore(tmp_path / "new" / "alertrouter.db")
        fresh.state_put("x", "k", {"v": 1}, None, 1.0)
        for name in ("alertrouter.db", "alertrouter.db-wal", "alertrouter.db-shm", "alertrouter.db.lock"):
            assert mode(tmp_path / "new" / name) == 0o600, name
        legacy = tmp_path / "old"                           # as an older version left it: 0644, WAL open
        legacy.mkdir()
        conn = sqlite3.connect(legacy / "alertrouter.db")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
        conn.commit()
        names = ("alertrouter.db", "alertrouter.db-wal", "alertrouter.db-shm")
        assert [mode(legacy / n) for n in names] == [0o644] * 3
        SqliteStore(legacy / "alertrouter.db").state_put("x", "k", {"v": 1}, None, 1.0)
        assert [mode(legacy / n) for n in names] == [0o600] * 3
        conn.close()
    finally:
        os.umask(old)


def test_the_log_channels_file_is_owner_only(tmp_path):
    """The log channel's file holds rendered notices, acknowledge links (live credentials) among them."""
    from alertrouter.channels.base import ChannelContext
    from alertrouter.channels.transport import make_session
    from alertrouter.channels.log import LogSender
    from alertrouter.channels.log import LogChannel
    from alertrouter.rendering.renderer import Rendered

    sender = LogSender("log", LogChannel(type="log", console=False), ChannelContext(make_session(), tmp_path))
    msg = Rendered(notification_id="n1", event_id="e1", route="r", role="a", channel="log", kind="alert.fired",
                   severity="critical", title="t", parts={"text": "Acknowledge: http://127.0.0.1:7071/api/ack?token=x"})
    assert sender.send(msg).status == "delivered"
    assert mode(tmp_path / "notifications.jsonl") == 0o600
