"""One big Event Grid batch into `alertrouter serve` (a real process, the shipped routing.yaml, the
SQLite store, as `make run` starts it): does the server keep answering while it takes the batch in,
and does its memory come back?

    python benchmarks/big_batch.py [--events 33000] [--config routing.yaml] [--settle 5] [--json]

The batch is one POST of a ~1 MB JSON array of tiny Event Grid events (distinct ids, an unknown
event type: each goes to the default route, two notifications each, to the log channel since no
channel variable is set). While it is sent and answered, another connection polls GET /api/health
every 10 ms and a sampler reads the server's RSS from /proc every 10 ms. Printed:

- the longest wait for a /api/health answer while the batch was taken in (POST sent to answered),
  and the longest gap between two answers; the same while its notifications were delivered after;
- the time to take the batch in (POST to answer) and to deliver its notifications;
- the server's RSS before the POST, its peak while taking it in, just after the answer, and after
  the outbox drained and `--settle` seconds passed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
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


def batch(n: int) -> bytes:
    """n tiny Event Grid events, distinct ids, ~31 bytes each."""
    return ("[" + ",".join(f'{{"id":"{i:05d}","eventType":"t"}}' for i in range(n)) + "]").encode()


def rss_kb(pid: int) -> int:
    """The server's resident set (and that of any child it started), in kB."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


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


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Poller(threading.Thread):
    """GET /api/health every `every` seconds on its own keep-alive connection: (sent, answered) pairs."""

    def __init__(self, port: int, every: float = 0.01):
        super().__init__(daemon=True)
        self.port, self.every = port, every
        self.samples: list[tuple[float, float]] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                conn.request("GET", "/api/health")
                conn.getresponse().read()
                self.samples.append((sent, time.monotonic()))
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            self.stop.wait(max(0.0, self.every - (time.monotonic() - sent)))

    def slow(self, start: float, end: float, over: float = 0.1) -> tuple[int, float, float]:
        """Requests sent in [start, end] answered in more than `over` seconds, and the median and
        99th percentile of their answer times (seconds)."""
        times = sorted(a - s for s, a in self.samples if start <= s <= end) or [float("nan")]
        return sum(1 for t in times if t > over), times[len(times) // 2], times[int(len(times) * 0.99)]

    def window(self, start: float, end: float) -> tuple[float, float, int]:
        """For [start, end]: the longest answer time of a request sent then (seconds), the longest
        time without an answer (between two answers, or to a request still unanswered at the end)
        and how many answers came."""
        sent = [(s, a) for s, a in self.samples if start <= s <= end]
        longest = max((a - s for s, a in sent), default=float("nan"))
        answers = [start] + sorted(a for _, a in self.samples if start <= a <= end) + [end]
        gap = max(b - a for a, b in zip(answers, answers[1:]))
        late = [s for s, a in self.samples if s <= end < a]  # sent before the end, answered after
        if late:
            gap = max(gap, end - max(min(late), answers[-2]))
        return longest, gap, sum(1 for _, a in self.samples if start <= a <= end)


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
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/api/health")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


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


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(events: int, config: Path, settle: float, timeout: float, idle: float = 3.0) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="alertrouter-bigbatch-"))
    port = free_port()
    body = batch(events)
    with open(tmp / "server.log", "wb") as log_file:
        proc = start_server(config, tmp / "data", port, log_file)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            # warm up: one event in and delivered, so imports and caches are in the "before" figure
            conn.request("POST", "/api/eventgrid", b'[{"id":"warm","eventType":"t"}]',
                         {"Content-Type": "application/json"})
            conn.getresponse().read()
            _wait_drained(port, timeout)
            time.sleep(0.5)
            before = rss_kb(proc.pid)
            poller, sampler = Poller(port), Sampler(proc.pid)
            sampler.start()
            poller.start()
            tb = time.monotonic()
            time.sleep(idle)  # the same polling with nothing else to do: what the machine alone costs
            t0, cpu0, rq0 = time.monotonic(), cpu_seconds(proc.pid), run_queue_seconds(proc.pid)
            conn.request("POST", "/api/eventgrid", body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            answer = json.loads(resp.read())
            t1, cpu1, rq1 = time.monotonic(), cpu_seconds(proc.pid), run_queue_seconds(proc.pid)
            just_after = rss_kb(proc.pid)
            _wait_drained(port, timeout)
            t2 = time.monotonic()
            time.sleep(settle)
            poller.stop.set()
            sampler.stop.set()
            poller.join(5)
            sampler.join(5)
            after = rss_kb(proc.pid)
            idle_window, slow = poller.window(tb, t0), poller.slow(t0, t1)
            intake = poller.window(t0, t1)
            delivery = poller.window(t1, t2)
            counts = health(port)["store"]
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "events": events, "body_bytes": len(body), "status": resp.status, "answer": answer,
        "intake_seconds": t1 - t0, "delivery_seconds": t2 - t1,
        "health_longest_answer_intake_ms": intake[0] * 1000, "health_longest_gap_intake_ms": intake[1] * 1000,
        "health_answers_intake": intake[2], "health_longest_answer_idle_ms": idle_window[0] * 1000,
        "health_longest_gap_idle_ms": idle_window[1] * 1000, "server_cpu_intake_seconds": cpu1 - cpu0,
        "server_run_queue_intake_seconds": rq1 - rq0,
        "health_longest_answer_delivery_ms": delivery[0] * 1000, "health_longest_gap_delivery_ms": delivery[1] * 1000,
        "health_errors": poller.errors,
        "health_over_100ms_intake": slow[0], "health_p50_intake_ms": slow[1] * 1000, "health_p99_intake_ms": slow[2] * 1000,
        "health_over_100ms_idle": poller.slow(tb, t0)[0],
        "rss_before_mb": before / 1024, "rss_peak_intake_mb": sampler.peak(t0, t1) / 1024,
        "rss_just_after_mb": just_after / 1024, "rss_peak_mb": sampler.peak(t0, t2 + settle) / 1024,
        "rss_after_mb": after / 1024, "stored_events": counts["events"] - 1,
    }


def _wait_drained(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if health(port)["store"]["pending"] == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"the outbox did not drain within {timeout} s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=33_000, help="events in the batch (33,000: ~1 MB)")
    ap.add_argument("--config", type=Path, default=ROOT / "routing.yaml")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds to wait after the outbox drained")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    r = run(args.events, args.config.resolve(), args.settle, args.timeout)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"batch: {r['events']:,} events, {r['body_bytes']:,} bytes → HTTP {r['status']} {json.dumps(r['answer'])}"
          f" ({r['stored_events']:,} stored)")
    print(f"idle (same polling, before the batch): /api/health longest answer {r['health_longest_answer_idle_ms']:.0f} ms, "
          f"longest gap {r['health_longest_gap_idle_ms']:.0f} ms, {r['health_over_100ms_idle']} answer(s) over 100 ms")
    print(f"taking it in: {r['intake_seconds']:.2f} s ({r['server_cpu_intake_seconds']:.1f} s of server CPU, its threads "
          f"{r['server_run_queue_intake_seconds']:.1f} s waiting for a CPU); /api/health longest answer "
          f"{r['health_longest_answer_intake_ms']:.0f} ms, longest gap {r['health_longest_gap_intake_ms']:.0f} ms, "
          f"p50 {r['health_p50_intake_ms']:.0f} ms, p99 {r['health_p99_intake_ms']:.0f} ms, "
          f"{r['health_over_100ms_intake']} of {r['health_answers_intake']} answers over 100 ms")
    print(f"delivering its notifications: {r['delivery_seconds']:.1f} s; /api/health longest answer "
          f"{r['health_longest_answer_delivery_ms']:.0f} ms, longest gap {r['health_longest_gap_delivery_ms']:.0f} ms")
    print(f"RSS: before {r['rss_before_mb']:.0f} MB, peak while taking in {r['rss_peak_intake_mb']:.0f} MB, "
          f"just after {r['rss_just_after_mb']:.0f} MB, peak {r['rss_peak_mb']:.0f} MB, "
          f"after delivery + {args.settle:g} s {r['rss_after_mb']:.0f} MB")


if __name__ == "__main__":
    main()
