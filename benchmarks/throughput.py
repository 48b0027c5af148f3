"""End-to-end throughput: N events in over HTTP to `alertrouter serve` (a real process), every
notification out to a fast loopback webhook receiver; the same workloads against Prometheus
Alertmanager in the same run where it is installed.

    python benchmarks/throughput.py [--n 2000] [--workload single|burst|storm|all]
                                    [--connections 1,8] [--target ours|null|alertmanager|both|all] [--json]
    python benchmarks/throughput.py --scaling 500,2000,10000,20000 [--config shipped|bench] [--json]
    python benchmarks/throughput.py --n 2000 --workload all --target all --scaling 2000,20000 [--rss-n 10000]
        (`make bench`: the workloads, a burst at --rss-n for peak RSS, the storm on the shipped config
        at each N, then the performance issue's targets table: benchmarks/targets.py)

single: Azure Monitor alerts (common schema, distinct alert ids), one per POST to /api/alerts, as
        Action Groups send them, over 1 (or 8) keep-alive connections, each a closed loop.
burst:  Azure ML run events in Event Grid batches of 100 to /api/eventgrid, one connection.
storm:  Azure Monitor alerts from ONE alert rule on N distinct resources, one per POST, with a
        route grouping on the rule (group_wait 1s, group_interval 1s): a few notices, the last of
        which must count every alert.

`--config shipped` runs ours on the project's own routing.yaml (its channels' variables unset, so
notices go to the built-in log channel; its two inhibit rules, its grouping of platform alerts with
group_wait 30s): the storm alerts (Sev4) are targets of its first inhibit rule, and join one group.
On that config a run measures intake only: it does not wait the 30 s for the group's notice.

`--scaling N1,N2,...` runs the storm at each N (a fresh server and store each time) and prints the
cost per alert: wall ms (first POST to last answer, over N; and over the last 10 % of the POSTs
alone), the server's CPU ms during intake over N, and each as a ratio to the first N. A per-event
cost that grows with the number of firing alerts shows as ratios well above 1.

Alertmanager gets the equivalent alerts on its v2 API (one per POST for single, 100 per POST for
burst, one alertname on N resources for storm), `group_by: ['...']` and `group_wait: 0s` for
single and burst, `group_by: [alertname]` with the storm timers for storm.

Each run prints events in/s (intake), delivered/s (first POST to last delivery), intake-to-delivery
latency p50/p95/p99 and the peak RSS of the server under test; storm also prints the notices, the
alerts they account for and the time from the last POST to the last notice. The senders (one
process per connection) and the receiver (uvicorn with a raw ASGI app, backlog 4096) each run in a
process of their own; everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

from targets import targets as bench_targets  # beside this script

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
MP = mp.get_context("spawn")  # children share nothing with the parent (no inherited threads or GIL)

STORM_WAIT, STORM_INTERVAL = "1s", "1s"

STORM_SETTLE = 6.0  # seconds without a new notice after which a storm run stops waiting (> wait + interval + tick)
OURS_CONFIG = """
channels:
  hook: {type: webhook, url: "${BENCH_HOOK_URL}"}
roles:
  ops: {channels: [hook]}
routes:
  - {name: all, match: {}, roles: [ops]}
"""
OURS_STORM_CONFIG = f"""
channels:
  hook: {{type: webhook, url: "${{BENCH_HOOK_URL}}"}}
roles:
  ops: {{channels: [hook]}}
routes:
  - {{name: storm, match: {{}}, roles: [ops], group_by: [alert_rule], group_wait: {STORM_WAIT},
     group_interval: {STORM_INTERVAL}, repeat_interval: 24h}}
"""
# group_interval only paces a group's *later* notices; with group_wait 0s every alert is sent at
# once. 10s keeps it small without making Alertmanager re-check every one of N groups each second.
AM_CONFIG = """
route:
  receiver: hook
  group_by: {group_by}
  group_wait: {wait}
  group_interval: {interval}
  repeat_interval: 24h
receivers:
  - name: hook
    webhook_configs:
      - {{url: "http://127.0.0.1:{port}/am", send_resolved: false}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the receiver: first arrival per alert key, and every grouped notice ---

def _receiver(port: int) -> None:
    import uvicorn

    from null_router import lifespan, read_body  # beside this script

    first: dict[str, float] = {}  # alert key -> first arrival
    notices: list[tuple[str, int, float]] = []  # (group, alerts it accounts for, arrival)
    largest: dict[str, int] = {}  # group -> most alerts any of its notices accounted for
    requests_seen = [0]

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        body = await read_body(receive)
        now = time.time()
        out = b""
        path = scope["path"]
        if path == "/stats":  # small, polled while the run goes on
            out = json.dumps({"requests": requests_seen[0], "delivered": len(first),
                              "accounted": sum(largest.values()), "notices": len(notices),
                              "last_notice": notices[-1][2] if notices else 0.0}).encode()
        elif path == "/dump":
            out = json.dumps({"requests": requests_seen[0], "first": first, "notices": notices}).encode()
        else:
            requests_seen[0] += 1
            doc = json.loads(body)
            if path == "/am":  # Alertmanager's webhook: one notification holds the group's alerts
                alerts = doc["alerts"]
                for a in alerts:
                    first.setdefault(a["labels"]["id"], now)
                group, size = doc["groupKey"], len(alerts)
            else:  # ours: one notification per event, or a group's notice carrying its size
                labels = doc["data"]["labels"]
                if "group" in labels:
                    group, size = labels["group"], int(labels["group_size"])
                else:
                    first.setdefault(labels.get("alert_id") or labels.get("run_id"), now)
                    group, size = "", 0
            if group:
                notices.append((group, size, now))
                largest[group] = max(largest.get(group, 0), size)
        await send({"type": "http.response.start", "status": 200 if out else 202,
                    "headers": [(b"content-length", str(len(out)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": out})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False, http="httptools",
                backlog=4096)


# --- workloads: (alert keys, body bytes, path, headers) per POST ---

def _monitor_alerts(n: int, storm: bool):
    base = json.loads((FIXTURES / "monitor" / "monitor-metric-static-fired.test-action.json").read_text())
    ess = base["data"]["essentials"]
    rg = "/subscriptions/s/resourcegroups/bench/providers/microsoft.storage/storageaccounts/"
    for i in range(n):
        key = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/bench-{i}"
        ess["alertId"] = key
        if storm:  # one rule, many resources: what a bad deployment or a region incident looks like
            ess["alertRule"] = "bench-storm-rule"
            ess["severity"] = os.environ.get("BENCH_STORM_SEVERITY", ess["severity"])
            ess["alertTargetIDs"] = [f"{rg}res{i}"]
            ess["configurationItems"] = [f"res{i}"]
        yield [key], json.dumps(base).encode(), "/api/alerts", {"Content-Type": "application/json"}


def _aml_batches(n: int, batch: int = 100):
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


def _am_alerts(n: int, per_post: int, storm: bool):
    """The equivalent alerts for Alertmanager's v2 API (a JSON list per POST); the `id` label keeps
    them distinct (Alertmanager merges alerts with equal label sets). A storm's severity is the one
    ours gets (BENCH_STORM_SEVERITY, default the fixture's Sev4), as the adapter names it."""
    severity = AM_SEVERITY[os.environ.get("BENCH_STORM_SEVERITY", "Sev4")] if storm else "warning"
    for start in range(0, n, per_post):
        alerts, keys = [], []
        for i in range(start, min(n, start + per_post)):
            key = f"bench-{i}"
            keys.append(key)
            alerts.append({"labels": {"alertname": "bench-storm-rule" if storm else f"bench-rule-{i % 10}",
                                      "id": key, "severity": severity, "resource": f"res{i}"},
                           "annotations": {"summary": f"Fired: bench rule on res{i}",
                                           "description": "Alertruledescription"}})
        yield keys, json.dumps(alerts).encode(), "/api/v2/alerts", {"Content-Type": "application/json"}


def posts(target: str, workload: str, n: int):
    if target == "alertmanager":
        return _am_alerts(n, 100 if workload == "burst" else 1, workload == "storm")
    if workload == "burst":
        return _aml_batches(n)
    return _monitor_alerts(n, workload == "storm")


# --- the senders: one process per keep-alive connection, each a closed loop ---

def _sender(target: str, workload: str, n: int, conn: int, conns: int, port: int, go, out) -> None:
    mine = list(posts(target, workload, n))[conn::conns]  # built before the clock starts
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.connect()
    sent: dict[str, float] = {}
    errors: list[str] = []
    out.put(("ready", conn))
    go.wait()
    t_start = last_send = time.time()
    for keys, body, path, headers in mine:
        last_send = time.time()
        c.request("POST", path, body, headers)
        r = c.getresponse()
        answer = r.read()
        if r.status >= 300:
            errors.append(f"{r.status} {answer[:200]!r}")
            if len(errors) > 5:
                break
        for k in keys:
            sent[k] = last_send
    out.put(("done", conn, sent, t_start, time.time(), last_send, errors))
    c.close()


def send_all(target: str, workload: str, n: int, conns: int, port: int) -> tuple[dict, float, float, float]:
    """Run the senders; returns (send time per key, first send, last answer, last send)."""
    go, out = MP.Event(), MP.Queue()
    procs = [MP.Process(target=_sender, args=(target, workload, n, i, conns, port, go, out), daemon=True)
             for i in range(conns)]
    for p in procs:
        p.start()
    def receive(what: str, seconds: float):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                return out.get(timeout=0.5)
            except queue.Empty:
                dead = [p.exitcode for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"{target} {workload}: a sender failed (exit {dead[0]})") from None
        raise RuntimeError(f"{target} {workload}: the senders took more than {seconds:.0f} s to be {what}")

    for _ in procs:
        receive("ready", 120)
    go.set()
    sent: dict[str, float] = {}
    starts, ends, lasts, errors = [], [], [], []
    for _ in procs:
        _, _, s, t_start, t_end, last, errs = receive("done", 600)
        sent.update(s)
        starts.append(t_start)
        ends.append(t_end)
        lasts.append(last)
        errors += errs
    for p in procs:
        p.join(10)
    if errors:
        raise RuntimeError(f"{target} {workload}: {len(errors)} POST(s) refused, first: {errors[0]}")
    return sent, min(starts), max(ends), max(lasts)


# --- the servers under test ---

def wait_until(url: str, what: str, proc: subprocess.Popen | None = None, seconds: float = 20) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.ConnectionError:
            pass
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if time.time() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)


def start_ours(tmp: Path, workload: str, rport: int, store: str, config: str = "bench",
               cprofile: Path | None = None) -> tuple[subprocess.Popen, int]:
    if config == "shipped":
        (tmp / "routing.yaml").write_text((ROOT / "routing.yaml").read_text())
    else:
        (tmp / "routing.yaml").write_text(OURS_STORM_CONFIG if workload == "storm" else OURS_CONFIG)
    port = free_port()
    env = {**os.environ, "BENCH_HOOK_URL": f"http://127.0.0.1:{rport}/hook", "ALERTROUTER_STORE": store}
    if cprofile is not None:  # cProfile over the server's threads, written when it stops (http/profiling.py)
        cprofile.parent.mkdir(parents=True, exist_ok=True)
        env["ALERTROUTER_PROFILE"] = str(cprofile.resolve())
    if config == "shipped":  # its channels stay unconfigured: notices go to the log channel, nothing leaves
        for name in re.findall(r"\$\{(\w+)\}", (ROOT / "routing.yaml").read_text()):
            env.pop(name, None)
    if store == "azure":  # tables and queue of its own: the alert ids repeat from run to run
        tag = uuid.uuid4().hex[:10]
        env.update(ALERTROUTER_AZURE__TABLE_PREFIX=f"bench{tag}", ALERTROUTER_AZURE__QUEUE_NAME=f"bench-{tag}")
    proc = subprocess.Popen([sys.executable, "-m", "alertrouter.cli", "serve", "--config", str(tmp / "routing.yaml"),
                             "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(tmp / "data")],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(f"http://127.0.0.1:{port}/api/health", "alertrouter serve", proc)
    return proc, port


def start_null(rport: int) -> tuple[subprocess.Popen, int]:
    """The null router (null_router.py): same server stack and parse, one POST out per alert, nothing else."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "benchmarks" / "null_router.py"), "--port", str(port),
                             "--hook", f"http://127.0.0.1:{rport}/hook"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until(f"http://127.0.0.1:{port}/api/health", "the null router", proc)
    return proc, port


# The shipped routing.yaml as Alertmanager would have it, for the storm (its alerts all come from
# Azure Monitor): Sev0/Sev1 page one by one (production-pages: no grouping), cost goes on its own,
# every other alert is grouped by rule with the shipped timers (platform-alerts), and the first
# inhibit rule (a critical alert holds lesser ones on its resource). Both then do the same work.
AM_SHIPPED_CONFIG = """
route:
  receiver: hook
  group_by: ['...']
  group_wait: 0s
  group_interval: 10s
  repeat_interval: 24h
  routes:
    - matchers: ['severity=~"critical|error"', 'category!="cost"']
      receiver: hook
    - matchers: ['category="cost"']
      receiver: hook
    - matchers: ['alertname=~".+"']
      receiver: hook
      group_by: [alertname]
      group_wait: 30s
      group_interval: 5m
      repeat_interval: 4h
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity=~"warning|informational|verbose"']
    equal: [resource]
receivers:
  - name: hook
    webhook_configs:
      - {{url: "http://127.0.0.1:{port}/am", send_resolved: false}}
"""
# the common alert schema's severities, as the inbound adapter names them (Sev0 critical … Sev4 verbose)
AM_SEVERITY = {"Sev0": "critical", "Sev1": "error", "Sev2": "warning", "Sev3": "informational", "Sev4": "verbose"}


def start_alertmanager(binary: str, tmp: Path, workload: str, rport: int,
                       config: str = "bench") -> tuple[subprocess.Popen, int]:
    if config == "shipped":
        cfg = AM_SHIPPED_CONFIG.format(port=rport)
    elif workload == "storm":
        cfg = AM_CONFIG.format(group_by="[alertname]", wait=STORM_WAIT, interval=STORM_INTERVAL, port=rport)
    else:
        cfg = AM_CONFIG.format(group_by="['...']", wait="0s", interval="10s", port=rport)
    (tmp / "alertmanager.yml").write_text(cfg)
    port = free_port()
    log = (tmp / "alertmanager.log").open("wb")
    proc = subprocess.Popen([binary, f"--config.file={tmp / 'alertmanager.yml'}", f"--storage.path={tmp / 'am'}",
                             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=",
                             "--log.level=warn"],  # no cluster: nothing listens beyond loopback
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        wait_until(f"http://127.0.0.1:{port}/-/ready", "alertmanager", proc)
    except RuntimeError as exc:
        proc.kill()
        raise RuntimeError(f"{exc}: {(tmp / 'alertmanager.log').read_text()[-500:]}") from None
    return proc, port


def start_azurite():
    """The project's Azurite (node_modules, from `npm ci`) on free loopback ports, or None if absent."""
    sys.path.insert(0, str(ROOT))
    from tests.store.azurite import Azurite, missing_reason

    if missing_reason(ROOT):
        return None
    return Azurite(ROOT).spawn().wait()


def find_alertmanager(option: str | None) -> str | None:
    if option:
        return option if shutil.which(option) else None
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


# --- optional profile of the router with py-spy (not a dependency: install it yourself) ---

def py_spy() -> str | None:
    return shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))


def start_profile(pid: int, out: Path) -> subprocess.Popen:
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([py_spy(), "record", "-p", str(pid), "-o", str(out), "-f", "raw", "--nolineno",
                             "--gil", "--rate", "200"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profile(spy: subprocess.Popen) -> None:
    spy.send_signal(signal.SIGINT)  # py-spy writes its file on interrupt
    try:
        spy.wait(30)
    except subprocess.TimeoutExpired:
        spy.kill()


def self_time(collapsed: Path, top: int = 10) -> list[tuple[str, float]]:
    """The functions with the most self time (leaf samples) in py-spy's raw (collapsed) output."""
    leaves: dict[str, int] = {}
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.rsplit(";", 1)[-1]
        leaves[leaf] = leaves.get(leaf, 0) + int(count)
        total += int(count)
    ranked = sorted(leaves.items(), key=lambda kv: -kv[1])[:top]
    return [(name, round(100 * c / total, 1)) for name, c in ranked]


def tree(pid: int) -> list[int]:
    """The process and its descendants (the delivery process, with ALERTROUTER_DISPATCH__PROCESS=true)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += [c for c, pp in parents.items() if pp == p]
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its descendants (all their threads)."""
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            if p == pid:
                return float("nan")
    return total


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory of the process plus its descendants' (each one's own peak, added)."""
    total = 0.0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            if p == pid:
                return float("nan")
    return total or float("nan")


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def run(target: str, workload: str, n: int, conns: int = 1, store: str = "sqlite", timeout: float = 120,
        alertmanager: str | None = None, profile: Path | None = None, config: str = "bench",
        cprofile: Path | None = None) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="alertrouter-bench-"))
    rport = free_port()
    receiver = MP.Process(target=_receiver, args=(rport,), daemon=True)
    receiver.start()
    stats_url = f"http://127.0.0.1:{rport}/stats"
    server = spy = None
    try:
        wait_until(stats_url, "receiver")
        if target == "alertmanager":
            server, port = start_alertmanager(alertmanager or "prometheus-alertmanager", tmp, workload, rport, config)
        elif target == "null":
            server, port = start_null(rport)
        else:
            server, port = start_ours(tmp, workload, rport, store, config,
                                      cprofile / f"ours-{workload}-x{conns}.pstats" if cprofile else None)
        if profile is not None and target == "ours":
            spy = start_profile(server.pid, profile / f"{target}-{workload}-x{conns}.txt")
        cpu0 = cpu_seconds(server.pid)
        sent, t0, t_end, last_post = send_all(target, workload, n, conns, port)
        intake_cpu = cpu_seconds(server.pid) - cpu0
        deadline = time.time() + (0 if config == "shipped" else timeout)  # shipped: intake only
        while time.time() < deadline:
            stats = requests.get(stats_url, timeout=10).json()
            if workload != "storm" and stats["delivered"] >= n:
                break
            if workload == "storm" and (stats["accounted"] >= n or
                                        time.time() - max(last_post, stats["last_notice"]) > STORM_SETTLE):
                break  # every alert counted, or no new notice for longer than the timers allow
            time.sleep(0.1)
        rss = peak_rss_mb(server.pid)
        cpu = cpu_seconds(server.pid) - cpu0
        got = requests.get(f"http://127.0.0.1:{rport}/dump", timeout=30).json()
    finally:
        if spy is not None:
            stop_profile(spy)
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        receiver.terminate()
        receiver.join(10)
        shutil.rmtree(tmp, ignore_errors=True)
    first, notices = got["first"], got["notices"]
    row = {"target": target, "workload": workload, "connections": conns, "n": n,
           "events_in_per_s": round(n / (t_end - t0), 1), "notifications": got["requests"],
           "cpu_ms_per_alert": round(cpu * 1000 / n, 3)}
    if config == "shipped":
        times = sorted(sent.values())
        tail = times[-max(1, n // 10):]
        row.update(config="shipped", wall_ms_per_alert=round((t_end - t0) * 1000 / n, 3),
                   tail_wall_ms_per_alert=round((t_end - tail[0]) * 1000 / len(tail), 3),
                   intake_cpu_ms_per_alert=round(intake_cpu * 1000 / n, 3), peak_rss_mb=round(rss, 1))
        return row
    if workload == "storm":
        largest: dict[str, int] = {}
        for group, size, _ in notices:
            largest[group] = max(largest.get(group, 0), size)
        complete: dict[str, float] = {}  # group -> when a notice first counted all its alerts
        for group, size, t in notices:
            if size == largest[group]:
                complete.setdefault(group, t)
        last_notice = max(complete.values(), default=float("nan"))
        accounted = sum(largest.values())
        row.update(groups=len(largest), accounted=accounted, all_accounted="yes" if accounted == n else "NO",
                   first_notice_s=round(min(t for _, _, t in notices) - t0, 2) if notices else float("nan"),
                   last_post_to_last_notice_s=round(last_notice - last_post, 2) if accounted == n else float("nan"),
                   peak_rss_mb=round(rss, 1))
        return row
    latencies = [(t - sent[k]) * 1000 for k, t in first.items() if k in sent]
    last = max(first.values(), default=t0)
    row.update(delivered=len(first),
               delivered_per_s=round(len(first) / (last - t0), 1) if first else 0.0,
               p50_ms=round(pct(latencies, 50), 1), p95_ms=round(pct(latencies, 95), 1),
               p99_ms=round(pct(latencies, 99), 1), peak_rss_mb=round(rss, 1))
    return row


# --- output ---

def table(rows: list[dict], cols: list[str]) -> str:
    cols = [c for c in cols if any(c in r for r in rows)]
    cells = [[str(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.rjust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(row) for row in cells)])


RUN_COLS = ["target", "workload", "config", "connections", "n", "delivered", "events_in_per_s", "delivered_per_s",
            "notifications", "p50_ms", "p95_ms", "p99_ms", "groups", "accounted", "all_accounted",
            "first_notice_s", "last_post_to_last_notice_s", "wall_ms_per_alert", "tail_wall_ms_per_alert",
            "intake_cpu_ms_per_alert", "cpu_ms_per_alert", "peak_rss_mb"]


def label(r: dict) -> str:
    return r["workload"] + (f" x{r['connections']}" if r["workload"] == "single" else "")


def comparison(rows: list[dict]) -> list[dict]:
    """Ours against Alertmanager, per workload: throughput (delivered/s; events in/s for storm),
    latency (p99; last POST to last notice for storm), peak RSS and the server's CPU time per
    alert, with ratio = ours / theirs."""
    def ratio(a, b):
        return round(a / b, 2) if a == a and b == b and b else float("nan")

    out = []
    for ours in (r for r in rows if r["target"] == "ours"):
        am = next((r for r in rows if r["target"] == "alertmanager" and label(r) == label(ours)), None)
        if am is None:
            continue
        tp = "events_in_per_s" if ours["workload"] == "storm" else "delivered_per_s"
        lat = "last_post_to_last_notice_s" if ours["workload"] == "storm" else "p99_ms"
        scale = 1000 if ours["workload"] == "storm" else 1  # latency in ms throughout
        out.append({"workload": label(ours), "n": ours["n"],
                    "ours_per_s": ours[tp], "am_per_s": am[tp], "ratio_per_s": ratio(ours[tp], am[tp]),
                    "ours_latency_ms": round(ours[lat] * scale, 1), "am_latency_ms": round(am[lat] * scale, 1),
                    "ratio_latency": ratio(ours[lat], am[lat]),
                    "ours_rss_mb": ours["peak_rss_mb"], "am_rss_mb": am["peak_rss_mb"],
                    "ratio_rss": ratio(ours["peak_rss_mb"], am["peak_rss_mb"]),
                    "ratio_cpu_per_alert": ratio(ours["cpu_ms_per_alert"], am["cpu_ms_per_alert"])})
    return out


def against_null(rows: list[dict]) -> list[dict]:
    """Ours against the null router, per workload: delivered/s, p99 and CPU per alert, ratio = ours / null."""
    def ratio(a, b):
        return round(a / b, 2) if a == a and b == b and b else float("nan")

    out = []
    for ours in (r for r in rows if r["target"] == "ours" and r["workload"] != "storm"):
        null = next((r for r in rows if r["target"] == "null" and label(r) == label(ours)), None)
        if null is None:
            continue
        out.append({"workload": label(ours), "n": ours["n"], "ours_per_s": ours["delivered_per_s"],
                    "null_per_s": null["delivered_per_s"], "ratio_per_s": ratio(ours["delivered_per_s"], null["delivered_per_s"]),
                    "ours_p99_ms": ours["p99_ms"], "null_p99_ms": null["p99_ms"],
                    "ours_cpu_ms": ours["cpu_ms_per_alert"], "null_cpu_ms": null["cpu_ms_per_alert"],
                    "ratio_cpu_per_alert": ratio(ours["cpu_ms_per_alert"], null["cpu_ms_per_alert"])})
    return out


def scaling(ns: list[int], store: str, config: str, timeout: float, targets: list[str] | None = None,
            alertmanager: str | None = None) -> list[dict]:
    """The storm at each N (each target on a fresh server), its cost per alert as a ratio to the
    first N's, and ours / Alertmanager at each N where both ran."""
    rows = []
    for n in ns:
        for target in targets or ["ours"]:
            r = run(target, "storm", n, 1, store, timeout, alertmanager, config=config)
            wall = r.get("wall_ms_per_alert", round(1000 / r["events_in_per_s"], 3))
            tail = r.get("tail_wall_ms_per_alert", float("nan"))
            cpu = r.get("intake_cpu_ms_per_alert", r["cpu_ms_per_alert"])
            rows.append({"target": target, "config": config, "store": store,
                         "severity": os.environ.get("BENCH_STORM_SEVERITY", "Sev4"), "n": n,
                         "events_in_per_s": r["events_in_per_s"], "wall_ms_per_alert": wall,
                         "tail_wall_ms_per_alert": tail, "cpu_ms_per_alert": cpu,
                         "peak_rss_mb": r.get("peak_rss_mb", float("nan"))})
            print(f"scaling: {target} n={n}: {r['events_in_per_s']} events in/s, {wall} ms wall and {cpu} ms CPU "
                  "an alert", file=sys.stderr, flush=True)  # a run cut short keeps the figures it has
    for target in {r["target"] for r in rows}:
        mine = [r for r in rows if r["target"] == target]
        base = mine[0]
        for r in mine:
            for k in ("wall_ms_per_alert", "tail_wall_ms_per_alert", "cpu_ms_per_alert"):
                r[k.replace("_ms_per_alert", "_ratio")] = round(r[k] / base[k], 2) if base[k] else float("nan")
    for r in rows:
        am = next((a for a in rows if a["target"] == "alertmanager" and a["n"] == r["n"]), None)
        r["in_per_s_vs_am"] = round(r["events_in_per_s"] / am["events_in_per_s"], 2) if am else float("nan")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--workload", choices=["single", "burst", "storm", "all"], default=None,
                    help="default all; with --scaling, the workloads run first, then the scaling runs, then "
                         "the issue's targets table (benchmarks/targets.py) over both")
    ap.add_argument("--connections", default="1,8",
                    help="keep-alive connections for single, e.g. 1, 8 or 1,8 (burst and storm use 1)")
    ap.add_argument("--target", choices=["ours", "null", "alertmanager", "both", "all"], default="all",
                    help="both: ours and Alertmanager; all: ours, the null router (single and burst: the "
                         "ceiling of this work in CPython here, benchmarks/null_router.py) and Alertmanager")
    ap.add_argument("--alertmanager", default=None, help="the Alertmanager binary (default: found on PATH)")
    ap.add_argument("--store", choices=["sqlite", "azure"], default="sqlite")
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for deliveries, per run")
    ap.add_argument("--profile", type=Path, default=None, metavar="DIR",
                    help="record the router with py-spy into DIR and print its top self-time functions "
                         "(the figures of a profiled run are slowed by the sampling)")
    ap.add_argument("--cprofile", type=Path, default=None, metavar="DIR",
                    help="run ours under cProfile (ALERTROUTER_PROFILE, every thread) into DIR/ours-<workload>-"
                         "x<connections>.pstats and print the functions with the most own time")
    ap.add_argument("--delivery-process", action="store_true",
                    help="run ours with ALERTROUTER_DISPATCH__PROCESS=true (delivery in a process of its own)")
    ap.add_argument("--config", choices=["bench", "shipped"], default=None,
                    help="ours on the benchmark's own minimal config (default) or on the project's routing.yaml "
                         "(the storm workload only; the default for --scaling)")
    ap.add_argument("--scaling", default=None, metavar="N1,N2,...",
                    help="the storm at each N on a fresh server; prints the cost per alert and its ratio to the first N")
    ap.add_argument("--storm-severity", choices=["Sev0", "Sev1", "Sev2", "Sev3", "Sev4"], default=None,
                    help="the storm's alerts' severity (default: the fixture's, Sev4); on the shipped config Sev0 "
                         "alerts are pages with an escalation, and sources of its first inhibit rule")
    ap.add_argument("--rss-n", type=int, default=10_000, metavar="N",
                    help="with --workload and --scaling: the burst's N for the targets' peak RSS row (default 10,000)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.storm_severity:
        os.environ["BENCH_STORM_SEVERITY"] = args.storm_severity  # the senders (spawned) read it
    if args.scaling is not None:
        try:
            ns = [int(x) for x in args.scaling.split(",")]
        except ValueError:
            ap.error(f"--scaling takes numbers separated by commas, e.g. 500,2000,10000,20000 (got {args.scaling!r})")
        if not ns or any(n < 1 or n > 100_000 for n in ns):
            ap.error("--scaling: each N must be between 1 and 100,000")
    if args.config == "shipped" and args.scaling is None and (args.workload != "storm" or args.target == "null"):
        ap.error("--config shipped runs the storm workload (on ours, and Alertmanager with its equivalent): "
                 "add --workload storm")
    if args.delivery_process:
        os.environ["ALERTROUTER_DISPATCH__PROCESS"] = "true"
    if args.profile is not None and py_spy() is None:
        ap.error("--profile needs py-spy (pip install py-spy)")
    if args.rss_n < 1 or args.rss_n > 100_000:
        ap.error("--rss-n must be between 1 and 100,000")
    if args.n < 1 or args.n > 100_000:
        ap.error("--n must be between 1 and 100,000")
    conns = [int(c) for c in args.connections.split(",")]
    if any(c < 1 or c > 64 for c in conns):
        ap.error("--connections must be between 1 and 64")
    both = args.scaling is not None and args.workload is not None  # the workloads, the scaling, the targets
    workload = args.workload or "all"
    workloads = ["single", "burst", "storm"] if workload == "all" else [workload]
    plan = [(w, c) for w in workloads for c in (conns if w == "single" else [1])]
    targets = {"both": ["ours", "alertmanager"], "all": ["ours", "null", "alertmanager"]}.get(args.target, [args.target])
    scaling_targets = [t for t in targets if t != "null"]  # the storm: no null router (it has no grouping)
    if args.config == "shipped":
        targets = scaling_targets
    am = None
    if "alertmanager" in targets:
        am = find_alertmanager(args.alertmanager)
        if am is None:
            where = args.alertmanager or "prometheus-alertmanager on PATH"
            print(f"alertmanager: not installed (no {where}); skipping the side-by-side runs",
                  file=sys.stderr if args.json else sys.stdout, flush=True)
            targets.remove("alertmanager")
    azurite = None
    if args.store == "azure" and not os.environ.get("ALERTROUTER_AZURE__CONNECTION_STRING"):
        azurite = start_azurite()  # the project's own (npm ci), in memory, for this run
        if azurite is None:
            ap.error("--store azure needs ALERTROUTER_AZURE__CONNECTION_STRING or Azurite (npm ci in the project root)")
        os.environ["ALERTROUTER_AZURE__CONNECTION_STRING"] = azurite.connection_string
    started = time.time()
    rows, storms = [], []
    try:
        if args.scaling is None or both:
            rows = [run(t, w, args.n, c, args.store, args.timeout, am, args.profile, args.config or "bench",
                        args.cprofile)
                    for w, c in plan for t in targets if not (t == "null" and w == "storm")]  # null: no grouping
            if both:
                report(rows, args, plan, targets)
                # peak RSS at N >= 10,000: the burst, where Alertmanager keeps every alert (a group each)
                memory = [run(t, "burst", args.rss_n, 1, args.store, args.timeout, am)
                          for t in targets if t != "null"]
                for r in memory:
                    r["purpose"] = "rss"
                print(json.dumps(memory) if args.json else "\n" + table(memory, RUN_COLS), flush=True)
                rows += memory
        if args.scaling is not None:
            storms = scaling(ns, args.store, args.config or "shipped", args.timeout,
                             [t for t in scaling_targets if t in targets], am)
            print(json.dumps(storms) if args.json else "\n" + table(storms, list(storms[0])), flush=True)
    finally:
        if azurite is not None:
            azurite.stop()
    if both:
        rows_t = bench_targets(rows, storms)
        if args.json:
            print(json.dumps(rows_t))
        else:
            print(f"\nthe issue's targets, this run ({time.time() - started:.0f} s): ours, the null router and "
                  "Alertmanager side by side; met / NOT met against the target")
            print(table(rows_t, list(rows_t[0])))
        return
    if args.scaling is None:
        report(rows, args, plan, targets)


def report(rows: list[dict], args, plan, targets) -> None:
    """The workload runs: the profile's top functions, every run, ours / null, ours / Alertmanager."""
    if args.profile is not None:
        for path in [args.profile / f"ours-{w}-x{c}.txt" for w, c in plan if "ours" in targets]:
            print(f"\n{path.name}: top self time (% of samples)", file=sys.stderr if args.json else sys.stdout)
            for name, share in self_time(path):
                print(f"  {share:5.1f}%  {name}", file=sys.stderr if args.json else sys.stdout)
    if args.cprofile is not None:
        import pstats

        for path in [args.cprofile / f"ours-{w}-x{c}.pstats" for w, c in plan if "ours" in targets]:
            if path.exists():
                print(f"\n{path.name}: most own time (cProfile, every thread)", file=sys.stderr if args.json else sys.stdout)
                pstats.Stats(str(path), stream=sys.stderr if args.json else sys.stdout).sort_stats("tottime").print_stats(25)
    if args.json:
        print(json.dumps(rows))
        return
    print(table(rows, RUN_COLS))
    ceiling = against_null(rows)
    if ceiling:
        print("\nours / the null router, same run (the null router: the same server stack and JSON parse, one "
              "POST out per alert, no routing, no store: the ceiling of this work in CPython on this machine)")
        print(table(ceiling, list(ceiling[0])))
    side = comparison(rows)
    if side:
        print("\nours / Alertmanager, same run (throughput: delivered/s, storm events in/s; latency: p99, "
              "storm last POST to last notice; CPU: the server's CPU time per alert; ratio = ours / Alertmanager)")
        print(table(side, list(side[0])))


if __name__ == "__main__":
    main()
