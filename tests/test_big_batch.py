"""One big Event Grid batch: the server keeps answering while it is taken in (the real server on
loopback), every event is stored exactly once, and a batch cut short by a crash (a real process,
killed) is made whole by Event Grid's redelivery, the events already in answered as duplicates."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.inbound import parse_body
from tests.conftest import RunningServer

ROOT = Path(__file__).resolve().parent.parent
# one notification per event, written to a file (no console output, no network)
CONFIG = """
version: 1
channels:
  quiet: {type: log, console: false}
roles:
  ops: {channels: [quiet]}
routes:
  - {name: all, match: {}, roles: [ops]}
"""
JSON = {"Content-Type": "application/json"}


def tiny_batch(n: int, prefix: str = "e") -> bytes:
    """n of the smallest Event Grid events, distinct ids (~30 bytes each)."""
    return ("[" + ",".join(f'{{"id":"{prefix}{i}","eventType":"t"}}' for i in range(n)) + "]").encode()


def stored(db: Path) -> tuple[int, int, int]:
    """Events, notifications, and events with a notification, read from the file as another process would."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as c:
        return c.execute("SELECT (SELECT COUNT(*) FROM events), (SELECT COUNT(*) FROM notifications), "
                         "(SELECT COUNT(DISTINCT event_id) FROM notifications)").fetchone()


@pytest.fixture
def quiet_app(tmp_path):
    return App(loads(CONFIG, "quiet.yaml"), tmp_path / "data")


def test_the_server_answers_while_a_big_batch_is_taken_in(quiet_app):
    n = 10_000
    body = tiny_batch(n)
    with RunningServer(quiet_app, workers=1) as server:
        batch: dict = {}

        def post() -> None:
            batch["resp"] = requests.post(server.url + "/api/eventgrid", data=body, headers=JSON, timeout=600)
            batch["at"] = time.monotonic()

        sender = threading.Thread(target=post)
        sender.start()
        health: list[int] = []  # the events count of every /api/health answered before the batch's answer
        small = None
        while sender.is_alive():
            answer = requests.get(server.url + "/api/health", timeout=600).json()["store"]["events"]
            if sender.is_alive():
                health.append(answer)
            if small is None and 0 < answer < n:  # the batch is being taken in: another event meanwhile
                small = requests.post(server.url + "/api/eventgrid", data=b'[{"id":"small","eventType":"t"}]',
                                      headers=JSON, timeout=600)
                small_at = time.monotonic()
            time.sleep(0.01)
        sender.join()

        # answered while the batch was part-way in (its chunks commit as they go), and a small post
        # too, before the batch's own answer
        assert [c for c in health if 0 < c < n], f"no /api/health answer while the batch was taken in: {health[-5:]}"
        assert small is not None and small.json()["accepted"] == 1 and small_at < batch["at"]
        assert batch["resp"].status_code == 200
        assert batch["resp"].json() == {"accepted": n, "duplicates": 0, "notifications": n}
        db = quiet_app.store.path
        assert stored(db) == (n + 1, n + 1, n + 1)  # every event once, each with its one notification

        again = requests.post(server.url + "/api/eventgrid", data=body, headers=JSON, timeout=600).json()
        assert again == {"accepted": 0, "duplicates": n, "notifications": 0}
        assert stored(db) == (n + 1, n + 1, n + 1)


def test_a_batch_bigger_than_a_chunk_redelivered_is_all_duplicates(quiet_app):
    n = 250  # more than a chunk (INGEST_CHUNK, 100), not a multiple of it
    woken: list[int] = []
    quiet_app.listeners.append(lambda ns: woken.append(len(ns)))
    events = parse_body(tiny_batch(n), "application/json", "eventgrid").events
    first = quiet_app.ingest(events)
    assert (len(first.accepted), len(first.duplicates), len(first.notifications)) == (n, 0, n)
    # the listeners (the dispatcher) hear of each chunk as it is committed, not once at the end
    assert len(woken) > 1 and sum(woken) == n
    again = quiet_app.ingest(parse_body(tiny_batch(n), "application/json", "eventgrid").events)
    assert (len(again.accepted), len(again.duplicates), len(again.notifications)) == (0, n, 0)
    assert quiet_app.store.counts()["events"] == n and quiet_app.store.counts()["pending"] == n


CRASHING_INTAKE = textwrap.dedent("""
    import sys
    from alertrouter.app import App
    from alertrouter.config.load import loads
    from alertrouter.inbound import parse_body
    from tests.test_big_batch import CONFIG, tiny_batch

    app = App(loads(CONFIG, "quiet.yaml"), sys.argv[1])
    events = parse_body(tiny_batch(int(sys.argv[2])), "application/json", "eventgrid").events
    print("ready", flush=True)
    app.ingest(events)
    print("done", flush=True)
""")


def test_a_crash_mid_batch_then_redelivery_stores_every_event_once(tmp_path):
    n = 10_000
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-c", CRASHING_INTAKE, str(data), str(n)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout.readline().strip() == "ready"
        db = data / "alertrouter.db"
        deadline = time.monotonic() + 300
        while stored(db)[0] == 0 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)  # the process dies with the batch part-way in
    finally:
        proc.wait(30)
    events, notifications, with_one = stored(db)
    assert 0 < events < n, f"{events} of {n} events were committed when the process was killed"
    assert notifications == with_one == events  # a committed event always has its notifications

    # Event Grid had no answer, so it delivers the whole batch again
    app = App(loads(CONFIG, "quiet.yaml"), data)
    result = app.ingest(parse_body(tiny_batch(n), "application/json", "eventgrid").events)
    assert (len(result.accepted), len(result.duplicates)) == (n - events, events)
    assert len(result.notifications) == n - events
    assert stored(db) == (n, n, n)


def test_big_batch_benchmark_runs():
    import json

    out = subprocess.run([sys.executable, "benchmarks/big_batch.py", "--events", "300", "--settle", "0", "--json",
                          "--timeout", "120"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["answer"] == {"accepted": 300, "duplicates": 0, "notifications": 300} and r["stored_events"] == 300
    assert r["probes"]["health"]["intake"]["requests"] >= 1 and r["rss_after_mb"] > 0


def _events_with_payload() -> int:
    """Events alive now that still hold their payload (the deliveries' cache keeps copies without it)."""
    import gc

    from alertrouter.model import Event

    return sum(1 for o in gc.get_objects() if isinstance(o, Event) and o.raw is not None)


def test_a_big_batch_never_holds_all_its_events_at_once(quiet_app, tmp_path):
    """A long Event Grid array is made into Events a chunk at a time as it is taken in: memory holds
    one chunk's Events, not the batch's (a 1 MB batch of 33,000 events peaked at 152 MB RSS, 86 MB now)."""
    from alertrouter.http.api import HttpApi, Request

    n, alive = 1_000, []
    before = _events_with_payload()  # what earlier tests of this process still hold (a module's fixtures)
    quiet_app.listeners.append(lambda _: alive.append(_events_with_payload() - before))
    api = HttpApi(quiet_app)
    resp = api.eventgrid(Request("POST", "/api/eventgrid", JSON, body=tiny_batch(n)))
    assert resp.status == 200 and b'"accepted": 1000' in resp.body
    assert len(alive) >= n // App.INGEST_CHUNK and max(alive) <= 2 * App.INGEST_CHUNK, alive
    assert stored(tmp_path / "data" / "alertrouter.db")[:2] == (n, n)


def test_a_bad_event_late_in_a_long_batch_still_refuses_it_all(quiet_app, tmp_path):
    """Made lazily or not, a batch is checked whole first: one event that can never be read answers
    400 naming it, and nothing of the batch is stored (Event Grid dead-letters the delivery whole)."""
    from alertrouter.http.api import HttpApi, Request

    body = tiny_batch(500)[:-1] + b',{"id":"bad","eventType":"Microsoft.MachineLearningServices.RunCompleted",' \
                                  b'"subject":"x","eventTime":"2026-12-01T00:00:00Z","data":{"runProperties":[1]}}]'
    resp = HttpApi(quiet_app).eventgrid(Request("POST", "/api/eventgrid", JSON, body=body))
    assert resp.status == 400 and b"event [500]" in resp.body, resp.body
    assert quiet_app.store.counts().get("events", 0) == 0
