"""One big Event Grid batch into `alertrouter serve` (a real process, the shipped routing.yaml, the
SQLite store, as `make run` starts it): does the server keep answering while it takes the batch in,
and does its memory come back?

    python benchmarks/big_batch.py [--events 33000] [--config routing.yaml] [--settle 5] [--batches 1] [--json]

The batch is one POST of a ~1 MB JSON array of tiny Event Grid events (distinct ids, an unknown
event type: each goes to the default route, one notification each, to the log channel since no
channel variable is set). While it is sent and answered, one connection polls GET /api/health every
10 ms, another posts a one-event batch every 50 ms (a small writer: it needs the store's write lock
too), and a sampler reads the server's RSS from /proc every 10 ms. Printed:

- per probe, before the batch (the machine alone), while the batch is taken in (POST sent to
  answered) and while its notifications are delivered: the longest answer, p50 and p99, how many
  answers took over 100 ms, and for /api/health the longest time without an answer;
- the time to take the batch in, the server's CPU time meanwhile and the time its threads waited for
  a CPU (on a shared machine the other processes' share: read the latencies against it);
- the server's RSS before the POST, its peak while taking it in, just after the answer, and after
  the outbox drained and `--settle` seconds passed; with `--batches K`, K - 1 more batches of new
  events follow, each delivered, and the RSS after each (is the memory reused, or does it grow?).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHANNEL_VARS = ("SE_TEAMS_WEBHOOK_URL", "DS_TEAMS_WEBHOOK_URL", "QA_TEAMS_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY",
                "GRAPH_TENANT_ID", "GRAPH_CLIENT_ID", "GRAPH_CLIENT_SECRET", "GRAPH_SENDER", "OPS_WEBHOOK_URL",
                "OPS_WEBHOOK_SECRET", "QA_EMAIL_TO", "BA_EMAIL_TO")
JSON = {"Content-Type": "application/json"}


def batch(n: int, prefix: str = "") -> bytes:
    """n tiny Event Grid events, distinct ids, ~31 bytes each."""
    return ("[" + ",".join(f'{{"id":"{prefix}{i:05d}","eventType":"t"}}' for i in range(n)) + "]").encode()


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """The server's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_queue_seconds(pid: int) -> float:
    """Time the server's threads spent ready to run but waiting for a CPU (other processes had it)."""
    total = 0
    for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
        try:
            total += int(stat.read_text().split()[1])
        except (OSError, IndexError, ValueError):
            pass
    return total / 1e9


class Probe(threading.Thread):
    """One request every `every` seconds on its own keep-alive connection: (sent, answered) pairs."""

    def __init__(self, port: int, method: str, path: str, body=None, every: float = 0.01):
        super().__init__(daemon=True)
        self.port, self.method, self.path, self.body, self.every = port, method, path, body, every
        self.samples: list[tuple[float, float]] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        for n in itertools.count():
            if self.stop.is_set():
                break
            sent = time.monotonic()
            try:
                conn.request(self.method, self.path, self.body(n) if self.body else None, JSON if self.body else {})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    self.errors += 1
                self.samples.append((sent, time.monotonic()))
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.stop.wait(max(0.0, self.every - (time.monotonic() - sent)))

    def stats(self, start: float, end: float) -> dict:
        """Requests sent in [start, end]: how many, the longest answer, p50, p99 and how many took
        over 100 ms (ms); and the longest time without an answer in [start, end]."""
        times = sorted(a - s for s, a in self.samples if start <= s <= end) or [float("nan")]
        answers = [start] + sorted(a for _, a in self.samples if start <= a <= end) + [end]
        gap = max(b - a for a, b in zip(answers, answers[1:]))
        late = [s for s, a in self.samples if s <= end < a]  # sent before the end, answered after
        if late:
            gap = max(gap, end - max(min(late), answers[-2]))
        return {"requests": len(times), "longest_ms": times[-1] * 1000, "p50_ms": times[len(times) // 2] * 1000,
                "p99_ms": times[int(len(times) * 0.99)] * 1000, "over_100ms": sum(1 for t in times if t > 0.1),
                "longest_gap_ms": gap * 1000}


class Sampler(threading.Thread):
    def __init__(self, pid: int, every: float = 0.01):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append((time.monotonic(), rss_kb(self.pid)))
            self.stop.wait(self.every)

    def peak(self, start: float, end: float) -> int:
        return max((kb for t, kb in self.samples if start <= t <= end), default=0)


def health(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/api/health")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(config: Path, data: Path, port: int, log_file) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in CHANNEL_VARS and not k.startswith("ALERTROUTER_")}
    proc = subprocess.Popen([str(BIN / "alertrouter"), "serve", "--config", str(config), "--host", "127.0.0.1",
                             "--port", str(port), "--data-dir", str(data)],
                            stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=str(data.parent))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"alertrouter serve exited with {proc.returncode}")
        try:
            health(port)
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("alertrouter serve did not answer /api/health within 30 s")


def wait_drained(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health(port)["store"]["pending"] == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the outbox did not drain within {timeout} s")


def run(events: int, config: Path, settle: float, timeout: float, idle: float = 3.0, batches: int = 1) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="alertrouter-bigbatch-"))
    port = free_port()
    body = batch(events)
    try:
        with open(tmp / "server.log", "wb") as log_file:
            proc = start_server(config, tmp / "data", port, log_file)
            try:
                r = _measure(proc, port, body, events, settle, timeout, idle)
                r["rss_after_each_further_batch_mb"] = [_again(proc, port, events, i, settle, timeout)
                                                        for i in range(1, batches)]
                return r
            finally:
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _again(proc: subprocess.Popen, port: int, events: int, i: int, settle: float, timeout: float) -> float:
    """Another batch of as many (new) events, delivered, then the RSS after `settle` seconds (MB)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    conn.request("POST", "/api/eventgrid", batch(events, f"b{i}-"), JSON)
    conn.getresponse().read()
    conn.close()
    wait_drained(port, timeout)
    time.sleep(settle)
    return rss_kb(proc.pid) / 1024


def _measure(proc: subprocess.Popen, port: int, body: bytes, events: int, settle: float, timeout: float,
             idle: float) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    # warm up: one event in and delivered, so imports and caches are in the "before" figure
    conn.request("POST", "/api/eventgrid", b'[{"id":"warm","eventType":"t"}]', JSON)
    conn.getresponse().read()
    wait_drained(port, timeout)
    time.sleep(0.5)
    before = rss_kb(proc.pid)
    probes = {"health": Probe(port, "GET", "/api/health"),
              "small_post": Probe(port, "POST", "/api/eventgrid",
                                  lambda n: f'[{{"id":"probe-{n}","eventType":"probe"}}]'.encode(), every=0.05)}
    sampler = Sampler(proc.pid)
    sampler.start()
    for p in probes.values():
        p.start()
    tb = time.monotonic()
    time.sleep(idle)  # the same probes with nothing else going on: what the machine alone costs
    t0, cpu0, rq0 = time.monotonic(), cpu_seconds(proc.pid), run_queue_seconds(proc.pid)
    conn.request("POST", "/api/eventgrid", body, JSON)
    resp = conn.getresponse()
    answer = json.loads(resp.read())
    t1, cpu1, rq1 = time.monotonic(), cpu_seconds(proc.pid), run_queue_seconds(proc.pid)
    just_after = rss_kb(proc.pid)
    wait_drained(port, timeout)
    t2 = time.monotonic()
    for p in probes.values():
        p.stop.set()
        p.join(10)
    time.sleep(settle)
    sampler.stop.set()
    sampler.join(5)
    after = rss_kb(proc.pid)
    stored = health(port)["store"]["events"]
    probed = sum(len(p.samples) for name, p in probes.items() if name == "small_post")
    return {
        "events": events, "body_bytes": len(body), "status": resp.status, "answer": answer,
        "stored_events": stored - 1 - probed,
        "intake_seconds": t1 - t0, "server_cpu_intake_seconds": cpu1 - cpu0,
        "server_run_queue_intake_seconds": rq1 - rq0, "delivery_seconds": t2 - t1,
        "probes": {name: {"idle": p.stats(tb, t0), "intake": p.stats(t0, t1), "delivery": p.stats(t1, t2),
                          "errors": p.errors} for name, p in probes.items()},
        "rss_before_mb": before / 1024, "rss_peak_intake_mb": sampler.peak(t0, t1) / 1024,
        "rss_just_after_mb": just_after / 1024, "rss_peak_mb": sampler.peak(t0, t2) / 1024,
        "rss_after_mb": after / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=33_000, help="events in the batch (33,000: ~1 MB)")
    ap.add_argument("--config", type=Path, default=ROOT / "routing.yaml")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait after the outbox drained")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--batches", type=int, default=1, help="more batches after the first, each followed by its RSS")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = run(args.events, args.config.resolve(), args.settle, args.timeout, batches=args.batches)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"batch: {r['events']:,} events, {r['body_bytes']:,} bytes → HTTP {r['status']} {json.dumps(r['answer'])}"
          f" ({r['stored_events']:,} stored)")
    print(f"taken in in {r['intake_seconds']:.2f} s ({r['server_cpu_intake_seconds']:.1f} s of server CPU; its "
          f"threads waited {r['server_run_queue_intake_seconds']:.1f} s for a CPU); notifications delivered "
          f"{r['delivery_seconds']:.1f} s after")
    for name, p in r["probes"].items():
        for phase in ("idle", "intake", "delivery"):
            s = p[phase]
            gap = f", longest without an answer {s['longest_gap_ms']:.0f} ms" if name == "health" else ""
            print(f"  {name:10} {phase:8}: longest {s['longest_ms']:5.0f} ms, p50 {s['p50_ms']:4.0f} ms, "
                  f"p99 {s['p99_ms']:5.0f} ms, {s['over_100ms']} of {s['requests']} over 100 ms{gap}")
    print(f"RSS: before {r['rss_before_mb']:.0f} MB, peak while taking in {r['rss_peak_intake_mb']:.0f} MB, "
          f"just after {r['rss_just_after_mb']:.0f} MB, peak {r['rss_peak_mb']:.0f} MB, "
          f"after delivery + {args.settle:g} s {r['rss_after_mb']:.0f} MB")
    if r["rss_after_each_further_batch_mb"]:
        print("RSS after each further batch (delivered + settle): "
              + ", ".join(f"{mb:.0f} MB" for mb in r["rss_after_each_further_batch_mb"]))


if __name__ == "__main__":
    main()
