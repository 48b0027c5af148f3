"""End-to-end throughput: N events in over HTTP to `alertrouter serve` (a real process), every
notification out to a fast loopback webhook receiver.

    python benchmarks/throughput.py [--n 2000] [--workload single|burst|all] [--json]

single: Azure Monitor alerts (common schema, distinct alert ids), one per POST to /api/alerts, as
        Action Groups send them, over one keep-alive connection.
burst:  Azure ML run events in Event Grid batches of 100 to /api/eventgrid.

Prints events in/s (intake), notifications out/s (first POST to last delivery), intake-to-delivery
latency p50/p95/p99 and the router's peak RSS. The receiver is uvicorn with a raw ASGI app in a
process of its own (a backlog that never refuses connections).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
CONFIG = """
channels:
  hook: {type: webhook, url: "${BENCH_HOOK_URL}"}
roles:
  ops: {channels: [hook]}
routes:
  - {name: all, match: {}, roles: [ops]}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the receiver: records (key, arrival time) per delivery ---

def _receiver(port: int, out_path: str, ready) -> None:
    import uvicorn

    seen: list[tuple[str, float]] = []

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    Path(out_path).write_text(json.dumps(seen))
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        if scope["path"] == "/dump":
            Path(out_path).write_text(json.dumps(seen))
        else:
            labels = json.loads(body)["data"]["labels"]
            seen.append((labels.get("alert_id") or labels.get("run_id"), time.time()))
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    ready.set()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False, http="httptools",
                backlog=4096)


def count_delivered(port: int, out_path: str) -> list:
    requests.post(f"http://127.0.0.1:{port}/dump", data=b"{}", timeout=10)
    return json.loads(Path(out_path).read_text())


# --- workloads: (key, body bytes, path, headers) per POST ---

def single_alerts(n: int):
    base = json.loads((FIXTURES / "monitor" / "monitor-metric-static-fired.test-action.json").read_text())
    for i in range(n):
        key = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/bench-{i}"
        base["data"]["essentials"]["alertId"] = key
        yield [key], json.dumps(base).encode(), "/api/alerts", {"Content-Type": "application/json"}


def burst_runs(n: int, batch: int = 100):
    [proto] = json.loads((FIXTURES / "aml" / "aml-runstatuschanged-failed.eventgrid.json").read_text())
    for start in range(0, n, batch):
        events, keys = [], []
        for i in range(start, min(n, start + batch)):
            ev = json.loads(json.dumps(proto))
            ev["id"] = f"bench-{i}"
            ev["data"]["runId"] = f"run-{i}"
            keys.append(f"run-{i}")
            events.append(ev)
        yield keys, json.dumps(events).encode(), "/api/eventgrid", {
            "Content-Type": "application/json", "aeg-event-type": "Notification"}


WORKLOADS = {"single": single_alerts, "burst": burst_runs}


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(workload: str, n: int, store: str = "sqlite", timeout: float = 300) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="alertrouter-bench-"))
    (tmp / "routing.yaml").write_text(CONFIG)
    rport, aport = free_port(), free_port()
    out_path = str(tmp / "seen.json")
    ready = mp.Event()
    receiver = mp.Process(target=_receiver, args=(rport, out_path, ready), daemon=True)
    receiver.start()
    ready.wait(10)
    env = {**os.environ, "BENCH_HOOK_URL": f"http://127.0.0.1:{rport}/hook", "ALERTROUTER_STORE": store}
    router = subprocess.Popen([sys.executable, "-m", "alertrouter.cli", "serve", "--config", str(tmp / "routing.yaml"),
                               "--port", str(aport), "--data-dir", str(tmp / "data")],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{aport}"
    try:
        deadline = time.time() + 20
        while True:
            try:
                if requests.get(base + "/api/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                if time.time() > deadline:
                    raise RuntimeError("router did not start")
                time.sleep(0.05)
        session = requests.Session()
        sent: dict[str, float] = {}
        t0 = time.time()
        for keys, body, path, headers in WORKLOADS[workload](n):
            now = time.time()
            for k in keys:
                sent[k] = now
            r = session.post(base + path, data=body, headers=headers, timeout=30)
            r.raise_for_status()
        t_in = time.time() - t0
        seen: list = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            seen = count_delivered(rport, out_path)
            if len(seen) >= n:
                break
            time.sleep(0.1)
        rss = peak_rss_mb(router.pid)
    finally:
        router.terminate()
        router.wait(30)
        receiver.terminate()
    latencies = [(t - sent[k]) * 1000 for k, t in seen if k in sent]
    last = max((t for _, t in seen), default=t0)
    return {
        "workload": workload, "store": store, "n": n, "delivered": len(seen),
        "events_in_per_s": round(n / t_in, 1),
        "notifications_out_per_s": round(len(seen) / (last - t0), 1) if seen else 0.0,
        "p50_ms": round(pct(latencies, 50), 1), "p95_ms": round(pct(latencies, 95), 1),
        "p99_ms": round(pct(latencies, 99), 1), "peak_rss_mb": round(rss, 1),
    }


def table(rows: list[dict]) -> str:
    cols = ["workload", "store", "n", "delivered", "events_in_per_s", "notifications_out_per_s", "p50_ms", "p95_ms",
            "p99_ms", "peak_rss_mb"]
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    line = lambda vals: "  ".join(str(v).rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(cols), line("-" * w for w in widths), *(line(r[c] for c in cols) for r in rows)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all")
    ap.add_argument("--store", choices=["sqlite", "azure"], default="sqlite")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    names = list(WORKLOADS) if args.workload == "all" else [args.workload]
    rows = [run(w, args.n, args.store) for w in names]
    print(json.dumps(rows) if args.json else table(rows))


if __name__ == "__main__":
    main()
