"""Console event list: how long a filtered page of events takes with many events stored.

    python benchmarks/console_events.py [--events 100000] [--repeat 20] [--json]

Fills a SQLite store with N events through the store's intake call (one notification each; 50
experiments, 5 workspaces, 4 roles, a mix of kinds and severities), starts the local server with
the console on it (uvicorn on loopback, in a thread), and times GET / with filters over one
keep-alive connection: the whole page (store query, 50 rows with their notification counts,
HTML), median and p95 of `--repeat` requests, and the store query alone.
"""

from __future__ import annotations

import argparse
import json
import math
import socket
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import requests
import uvicorn

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.model import Event
from alertrouter.http.server import create_app
from alertrouter.store.base import EventFilter, Notification
from alertrouter.store.sqlite import SqliteStore

CONFIG = """
channels:
  hook: {type: webhook, url: 'http://127.0.0.1:9/x'}
roles:
  data-scientist: {channels: [hook]}
  software-engineer: {channels: [hook]}
  quality-assurance: {channels: [hook]}
  on-call: {channels: [hook]}
routes:
  - {name: all, match: {}, roles: [data-scientist]}
"""
ROLES = ("data-scientist", "software-engineer", "quality-assurance", "on-call")
KINDS = ("run.completed", "run.failed", "run.started", "alert.fired", "alert.resolved", "model.registered")
SEVERITIES = ("critical", "error", "warning", "informational", "verbose")
T0 = 1_800_000_000.0

# (name, query string, the same filter for the store)
QUERIES = [
    ("newest, no filter", "", EventFilter()),
    ("label experiment=exp-7 (2%)", "label=experiment%3Dexp-7", EventFilter(labels=(("experiment", "exp-7"),))),
    ("kind + severity", "kind=run.failed&severity=error", EventFilter(kind="run.failed", severity="error")),
    ("role + label", "role=on-call&label=experiment%3Dexp-7",
     EventFilter(role="on-call", labels=(("experiment", "exp-7"),))),
    ("two labels, none match (worst case)", "label=experiment%3Dexp-7%2C+workspace%3Dws-3&source=aml",
     EventFilter(source="aml", labels=(("experiment", "exp-7"), ("workspace", "ws-3")))),
    ("time range, 1 h in the middle", "since={mid0}&until={mid1}", None),
]


def fill(path: Path, n: int) -> None:
    store = SqliteStore(path)
    batch = []
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        event = Event(id=f"ev-{i}", source="aml" if kind.startswith(("run", "model")) else "azure-monitor", kind=kind,
                      severity=SEVERITIES[i % len(SEVERITIES)], title=f"event {i} of experiment exp-{i % 50}",
                      time=datetime.fromtimestamp(T0 + i, timezone.utc), fingerprint=f"fp-{i % 5000}",
                      labels={"experiment": f"exp-{i % 50}", "workspace": f"ws-{i % 5}", "run_id": f"run-{i}"})
        role = ROLES[(i // 7) % len(ROLES)]
        batch.append((event, [Notification(id=f"n-{i}", event_id=event.id, route="all", role=role, channel="hook")]))
        if len(batch) == 1000:
            store.ingest(batch, T0 + i)
            batch = []
    if batch:
        store.ingest(batch, T0 + n)
    store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(fn, repeat: int) -> tuple[float, float]:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    runs.sort()
    return statistics.median(runs) * 1000, runs[min(len(runs) - 1, math.ceil(len(runs) * 0.95) - 1)] * 1000


def run(n: int, repeat: int) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        started = time.perf_counter()
        fill(data / "alertrouter.db", n)
        fill_s = time.perf_counter() - started
        app = App(loads(CONFIG, str(data / "routing.yaml"), env={}), data)
        started = time.perf_counter()
        app.store.flush_index()  # intake writes no index rows: the first list would build them all
        index_s = time.perf_counter() - started
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(create_app(app), host="127.0.0.1", port=port, log_level="warning",
                                               http="httptools", lifespan="on"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.01)
        session = requests.Session()
        mid = T0 + n / 2
        rows = []
        try:
            for name, query, flt in QUERIES:
                if flt is None:
                    query = query.format(mid0=_iso(mid), mid1=_iso(mid + 3600))
                    flt = EventFilter(since=mid, until=mid + 3600)
                url = f"http://127.0.0.1:{port}/?{query}"
                first = session.get(url, timeout=30)
                assert first.status_code == 200, first.text[:300]
                shown = first.text.count('href="/event?id=')
                page_ms, page_p95 = timed(lambda: session.get(url, timeout=30), repeat)
                store_ms, _ = timed(lambda: app.store.list_events(flt, "", 50), repeat)
                rows.append({"query": name, "events": n, "rows": shown, "page_median_ms": round(page_ms, 1),
                             "page_p95_ms": round(page_p95, 1), "store_median_ms": round(store_ms, 2),
                             "fill_s": round(fill_s, 1), "index_s": round(index_s, 2)})
        finally:
            server.should_exit = True
            thread.join(10)
            app.store.close()
    return rows


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = run(args.events, args.repeat)
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{args.events:,} events stored (filled in {rows[0]['fill_s']} s, their index built in "
          f"{rows[0]['index_s']} s); GET / with 50 rows a page, {args.repeat} requests each")
    print(f"{'filter':38} {'rows':>5} {'page p50':>10} {'page p95':>10} {'store p50':>10}")
    for r in rows:
        print(f"{r['query']:38} {r['rows']:>5} {r['page_median_ms']:>8.1f}ms {r['page_p95_ms']:>8.1f}ms "
              f"{r['store_median_ms']:>8.2f}ms")


if __name__ == "__main__":
    main()
