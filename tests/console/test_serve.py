"""`alertrouter serve` as a real process serves the console on the shipped routing.yaml; with a key
set, loopback reads are open unless ALERTROUTER_CONSOLE__PRIVATE_READS says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
import re
import time

import pytest
import requests

from alertrouter.config.load import load
from tests.conftest import ROOT, free_port


def serve(tmp_path, **env):
    port = free_port()
    full = {**{k: v for k, v in os.environ.items() if not k.startswith("ALERTROUTER_")}, **env}
    proc = subprocess.Popen([sys.executable, "-m", "alertrouter.cli", "serve", "--config", str(ROOT / "routing.yaml"),
                             "--port", str(port), "--data-dir", str(tmp_path / "data")], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if requests.get(base + "/api/health", timeout=1).status_code == 200:
                return proc, base
        except requests.ConnectionError:
            pass
        assert proc.poll() is None, proc.stdout.read().decode()
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)


@pytest.mark.parametrize("private, status", [("false", 200), ("true", 401)])
def test_loopback_reads_with_a_key(tmp_path, private, status):
    proc, base = serve(tmp_path, ALERTROUTER_API_KEY="k-123", ALERTROUTER_CONSOLE__PRIVATE_READS=private)
    try:
        for path in ("/", "/routing", "/status"):
            assert requests.get(base + path, timeout=5).status_code == status, path
        assert requests.get(base + "/routing", headers={"x-functions-key": "k-123"}, timeout=5).status_code == 200
        if status == 200:
            page = requests.get(base + "/status", timeout=5).text
            assert "routing.yaml" in page and "not configured" in page
            tree = requests.get(base + "/routing", timeout=5).text.split('<ol class="tree">')[1].split("</ol>")[0]
            names = [r.name for r in load(ROOT / "routing.yaml", env={}).config.routes]
            shown = re.findall(r'<div class="route"><strong>([^<]+)</strong>', tree)
            assert shown == [*names, "default"]
    finally:
        proc.terminate()
        proc.wait(10)
