"""`alertrouter serve` with delivery in a process of its own (ALERTROUTER_DISPATCH__PROCESS=true), as
real processes: every alert reaches the receiver, /metrics counts the child's deliveries, a child
that dies is started again and sends what came in meanwhile, and stopping the server stops it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import requests
from werkzeug import Response

from tests.conftest import CAPTURE_CONFIG, ROOT, free_port, load_fixture, wait_until
from tests.test_metrics import scrape


def _alert(i: int) -> bytes:
    payload = load_fixture("monitor-metric-static-fired.test-action.json")
    payload["data"]["essentials"]["alertId"] += f"-{i}"
    return json.dumps(payload).encode()


def _delivery_children(proc: subprocess.Popen) -> list[int]:
    """The server's spawned delivery process (not multiprocessing's resource tracker), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or not _alive(int(entry)):
            continue
        try:
            ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            cmdline = open(f"/proc/{entry}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == proc.pid and "multiprocessing.spawn" in cmdline and "resource_tracker" not in cmdline:
            found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _gone(pid: int, within: float = 15) -> bool:
    deadline = time.monotonic() + within
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def served(tmp_path, httpserver):
    got = []
    httpserver.expect_request("/hook").respond_with_handler(lambda r: (got.append(r.get_json()), Response("", 202))[1])
    (tmp_path / "routing.yaml").write_text(CAPTURE_CONFIG)
    port = free_port()
    env = {**os.environ, "CAPTURE_URL": httpserver.url_for("/hook"), "ALERTROUTER_DISPATCH__PROCESS": "true"}
    proc = subprocess.Popen([sys.executable, "-m", "alertrouter.cli", "serve", "--config", str(tmp_path / "routing.yaml"),
                             "--port", str(port), "--data-dir", str(tmp_path / "data")],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up():
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            return requests.get(base + "/api/health", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_until(up, 30, "the server")
        yield proc, base, got
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def test_the_child_delivers_and_the_server_counts_it(served):
    proc, base, got = served
    [child] = _delivery_children(proc)
    for i in range(20):
        assert requests.post(base + "/api/alerts", data=_alert(i), timeout=5).json()["notifications"] == 1
    wait_until(lambda: len(got) == 20, 15, "twenty deliveries")
    key = ("alertrouter_notifications_total", (("channel", "capture"), ("outcome", "delivered")))
    wait_until(lambda: scrape(SimpleNamespace(url=base)).get(key) == 20, 5, "the relayed counter")
    m = scrape(SimpleNamespace(url=base))
    assert m[("alertrouter_delivery_latency_seconds_count", (("channel", "capture"),))] == 20
    assert _alive(child)


def test_a_child_that_dies_is_started_again_and_sends_what_waited(served):
    proc, base, got = served
    [child] = _delivery_children(proc)
    os.kill(child, signal.SIGKILL)
    assert _gone(child)
    for i in range(5):
        requests.post(base + "/api/alerts", data=_alert(100 + i), timeout=5).raise_for_status()
    wait_until(lambda: len(got) == 5, 30, "deliveries from the new child")
    [again] = _delivery_children(proc)
    assert again != child


def test_stopping_the_server_stops_the_child(served):
    proc, base, got = served
    [child] = _delivery_children(proc)
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    assert _gone(child)
