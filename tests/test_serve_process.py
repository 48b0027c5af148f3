"""`alertrouter serve` as a real process with the shipped routing.yaml (what `make run` starts):
with no webhook URLs set, notifications land in the data dir's notifications.jsonl."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import requests

from alertrouter.config.load import load
from alertrouter.pipeline.windows import inside
from alertrouter.store.sqlite import SqliteStore

from tests.conftest import FIXTURES, ROOT, free_port, wait_until


def test_serve_with_shipped_config_closes_the_loop(tmp_path):
    port = free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_WEBHOOK_URL", "_ROUTING_KEY", "GRAPH_TENANT_ID"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "alertrouter.cli", "serve", "--config", str(ROOT / "routing.yaml"),
         "--port", str(port), "--data-dir", str(data)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stdout.read().decode()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        body = next(FIXTURES.rglob("aml-runstatuschanged-failed.eventgrid.json")).read_bytes()
        resp = requests.post(base + "/api/eventgrid", data=body, headers={"aeg-event-type": "Notification"}, timeout=5)
        # QA's two unset channels both fall back to `log`: one notification there, not two
        assert resp.json() == {"accepted": 1, "duplicates": 0, "notifications": 2}
        log_file = data / "notifications.jsonl"
        # QA is muted during quiet hours (22:00–07:00 Berlin) in the shipped config: then its notice waits
        quiet = inside(load(ROOT / "routing.yaml", env={}).config.time_windows["quiet-hours"],
                       datetime.now(timezone.utc))
        expected = 1 if quiet else 2
        def run_lines():  # the shipped weekly digest may write its first (empty) week to the log too
            if not log_file.exists():
                return []
            return [x for x in map(json.loads, log_file.read_text().splitlines()) if x["kind"] == "run.failed"]

        wait_until(lambda: len(run_lines()) == expected, 10, "the log")
        lines = sorted(run_lines(), key=lambda x: x["role"])
        assert [(x["role"], x["route"], x["kind"]) for x in lines] == [
            ("data-scientist", "run-results", "run.failed"),
            ("quality-assurance", "experiment-lifecycle", "run.failed"),
        ][:expected]
        assert "ml.azure.com" in lines[0]["text"]
        [qa] = [n for n in SqliteStore(data / "alertrouter.db").list() if n.role == "quality-assurance"]
        if quiet:
            assert qa.status == "pending" and qa.last_detail.startswith("deferred until")
        else:
            qa_text = lines[1]["text"]
            assert "ml.azure.com" not in qa_text and "run_id" not in qa_text  # QA sees no studio links or run ids
        assert (data / "alertrouter.db").exists()
    finally:
        proc.terminate()
        proc.wait(10)
