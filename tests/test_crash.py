"""`alertrouter serve` as a real process: killed with SIGKILL mid-delivery, or stopped with SIGTERM,
then started again: every notification is delivered. After SIGKILL a receiver may see a repeat of
what was in flight (at most the claimed batch), with the same notification id to drop it by;
after SIGTERM none."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests
from werkzeug import Response

from tests.conftest import ROOT, free_port, load_fixture, wait_until

CONFIG = """
channels:
  hook: {type: webhook, url: "${HOOK_URL}", retry: {backoff_seconds: 0.1, max_backoff_seconds: 0.5}}
roles:
  ops: {channels: [hook]}
routes:
  - {name: all, match: {}, roles: [ops]}
"""
BATCH = 8


class SlowReceiver:
    def __init__(self, delay: float):
        self.delay = delay
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request):
        time.sleep(self.delay)
        nid = json.loads(request.get_data())["data"]["notification_id"]
        with self.lock:
            self.seen[nid] += 1
        return Response("", status=202)


def start(tmp_path, port: int, hook_url: str) -> subprocess.Popen:
    env = {**os.environ, "HOOK_URL": hook_url, "ALERTROUTER_DISPATCH__LEASE_SECONDS": "1",
           "ALERTROUTER_DISPATCH__BATCH": str(BATCH), "ALERTROUTER_DISPATCH__WORKERS": "4"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alertrouter.cli", "serve", "--config", str(tmp_path / "routing.yaml"),
         "--port", str(port), "--data-dir", str(tmp_path / "data")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/api/health"

    def up():
        assert proc.poll() is None, proc.stderr.read().decode()
        try:
            return requests.get(url, timeout=1).ok
        except requests.ConnectionError:
            return False

    wait_until(up, 20, "the server to start")
    return proc


def burst(port: int, n: int) -> None:
    base = load_fixture("monitor-metric-static-fired.test-action.json")
    session = requests.Session()
    for i in range(n):
        base["data"]["essentials"]["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{i}"
        r = session.post(f"http://127.0.0.1:{port}/api/alerts", json=base, timeout=5)
        assert r.json()["accepted"] == 1


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_restart_delivers_everything(sig, tmp_path, receiver):
    (tmp_path / "routing.yaml").write_text(CONFIG)
    plan = SlowReceiver(delay=0.05)
    receiver.expect_request("/hook").respond_with_handler(plan)
    port = free_port()
    proc = start(tmp_path, port, receiver.url_for("/hook"))
    n = 40
    burst(port, n)
    wait_until(lambda: sum(plan.seen.values()) >= 5, 20, "some deliveries")
    proc.send_signal(sig)
    proc.wait(30)
    if sig == signal.SIGTERM:  # uvicorn shuts down gracefully, then re-raises the signal: exit -15
        log = proc.stderr.read().decode()
        assert proc.returncode in (0, -signal.SIGTERM), log
        assert "dispatcher stopped; pending notifications resume on the next start" in log
    delivered_before = len(plan.seen)
    assert delivered_before < n, "the kill came too late to test anything"
    proc = start(tmp_path, free_port(), receiver.url_for("/hook"))
    try:
        wait_until(lambda: len(plan.seen) == n, 30, "every notification")
        time.sleep(1.5)  # a lease's length: any stray repeat would arrive by now
    finally:
        proc.terminate()
        proc.wait(10)
    repeats = sum(plan.seen.values()) - n
    if sig == signal.SIGTERM:
        assert repeats == 0
    else:
        assert repeats <= BATCH, plan.seen
