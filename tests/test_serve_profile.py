"""ALERTROUTER_PROFILE: `alertrouter serve` under cProfile over every thread, one pstats file written
when it stops on SIGTERM (how benchmarks/throughput.py --cprofile profiles the hot path)."""

from __future__ import annotations

import os
import pstats
import signal
import subprocess
import sys
import time

import requests

from tests.conftest import FIXTURES, ROOT, free_port


def test_the_profile_covers_intake_and_the_dispatchers_thread(tmp_path):
    port, out = free_port(), tmp_path / "serve.pstats"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_WEBHOOK_URL", "_ROUTING_KEY", "GRAPH_TENANT_ID"))}
    proc = subprocess.Popen([sys.executable, "-m", "alertrouter.cli", "serve", "--config", str(ROOT / "routing.yaml"),
                             "--port", str(port), "--data-dir", str(tmp_path / "data")],
                            cwd=ROOT, env={**env, "ALERTROUTER_PROFILE": str(out)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/api/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        body = (FIXTURES / "monitor" / "monitor-metric-static-fired.test-action.json").read_bytes()
        assert requests.post(base + "/api/alerts", data=body, timeout=10).ok
        time.sleep(1.5)  # the dispatcher's pass
    finally:
        proc.send_signal(signal.SIGTERM)
        log = proc.communicate(timeout=60)[0].decode()
    assert out.exists(), log[-2000:]
    assert "profile of" in log and str(out) in log
    functions = {(path.rsplit("/", 1)[-1], name) for path, _, name in pstats.Stats(str(out)).stats}
    assert ("api.py", "alerts") in functions  # intake, on the event loop
    assert any(path == "dispatcher.py" for path, _ in functions)  # the dispatcher, on threads of its own


def test_a_profile_file_in_a_missing_folder_is_refused_with_the_variable_named(tmp_path):
    out = subprocess.run([sys.executable, "-m", "alertrouter.cli", "serve", "--config", str(ROOT / "routing.yaml"),
                          "--port", str(free_port()), "--data-dir", str(tmp_path / "data")], cwd=ROOT,
                         env={**os.environ, "ALERTROUTER_PROFILE": str(tmp_path / "nope" / "x.pstats")},
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert f"ALERTROUTER_PROFILE={tmp_path / 'nope' / 'x.pstats'}: the folder {tmp_path / 'nope'} does not exist" \
        in out.stderr
