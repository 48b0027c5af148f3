"""The Azure path's cost per alert: storage requests and CPU to take an alert in and to deliver it,
as the Functions host runs it (the Azure store on Azurite, intake enqueuing its notifications,
the queue trigger delivering the notifications a message names).

    python benchmarks/azure_path.py [--workload single|resolved|batch|storm|all] [--n 200] [--json]

single: Azure Monitor alerts (common schema, distinct alert ids), one per POST to /api/alerts.
resolved: the resolutions of N such alerts, whose firings were taken in and delivered first
        (not counted).
batch:  Azure ML RunStatusChanged (Failed) events, distinct run ids, in Event Grid batches of 100.
runs:   the same on the shipped routing.yaml (a run's end goes to three roles), the runs' starts
        (RunStatusChanged Running) taken in and delivered first (not counted).
storm:  Azure Monitor alerts from ONE alert rule on N distinct resources, one per POST (on the
        shipped config they join one group and are targets of its first inhibit rule).

single, resolved and batch run on throughput.py's one-route config (every event to one role, one
notification each), runs and storm on the shipped routing.yaml; the channels' variables are unset, so
notices go to the built-in log channel (a file), and nothing leaves the machine. All of it runs in
this process: the HTTP API object the Functions handlers call
(alertrouter.http.api.HttpApi) over an App built with the Functions wiring (build.FUNCTIONS),
and, for delivery, Dispatcher.run_once(ids) per message the store enqueued (an intake call's
notifications, up to IDS_PER_MESSAGE a message), which is what the queue trigger does. The host's own queue reads and deletes are not the router's requests and are not counted.

Every storage request is counted at the HTTP level by azure-core's request hook on the store's
clients (each attempt, retries included), with its method, table or queue and shape
(entity, query, insert, batch, message); one pass with a small N also names the store method and
the router code that made each request. CPU is time.process_time() of this process (Azurite is
another process) around each phase, divided by the alerts taken in.

The first alert of a run (the store's one-time reads: the event list's mark) is taken in before
the counting starts.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import re
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIXTURES = ROOT / "tests" / "fixtures"
BATCH = 100
BENCH_CONFIG = """
channels:
  hook: {type: webhook, url: "${BENCH_UNSET_HOOK_URL}"}
roles:
  ops: {channels: [hook]}
routes:
  - {name: all, match: {}, roles: [ops]}
"""
_URL = re.compile(r"https?://[^/]+/[^/]+/(?P<res>[^/?(]+)(?P<entity>\([^)]*\))?(?P<rest>[^?]*)")


class RequestCounter:
    """Counts every request the store's clients send (azure-core's raw_request_hook, called for
    each attempt after the retry policy): (method, resource, shape) and, when `trace` is set, the
    store method and the router code that made it."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.counts: Counter = Counter()
        self.callers: Counter = Counter()
        self.trace = False
        self._lock = threading.Lock()

    def __call__(self, request) -> None:
        http = request.http_request
        key = describe(http.method, http.url, self.prefix)
        caller = where() if self.trace else None
        with self._lock:
            self.counts[key] += 1
            if caller is not None:
                self.callers[(key, caller)] += 1

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.callers.clear()

    def total(self) -> int:
        return sum(self.counts.values())


def describe(method: str, url: str, prefix: str) -> str:
    """'GET Events entity', 'POST Notifications insert', 'POST $batch', 'POST queue message'…"""
    m = _URL.match(url)
    if m is None:
        return f"{method} {url.split('?')[0]}"
    res = m["res"]
    if res == "$batch":
        return f"{method} $batch (entity-group transaction)"
    if res.endswith("()") or m["entity"] == "()":
        res = res.removesuffix("()")
        return f"{method} {res.removeprefix(prefix)} query"
    if m["rest"].startswith("/messages"):
        return f"{method} queue message"
    if m["entity"]:
        return f"{method} {res.removeprefix(prefix)} entity"
    return f"{method} {res.removeprefix(prefix)} {'insert' if method == 'POST' else 'table'}"


def where() -> str:
    """The innermost store method and the innermost router code outside the store that led here."""
    store = core = ""
    for frame in reversed(traceback.extract_stack()):
        path = frame.filename.replace("\\", "/")
        if "/alertrouter/" not in path:
            continue
        rel = path.rsplit("/alertrouter/", 1)[1]
        if rel.startswith("store/azure/"):
            store = store or f"{rel.removeprefix('store/azure/')}:{frame.name}"
        elif not core:
            core = f"{rel}:{frame.name}"
            break
    return f"{store} <- {core}" if core else store


# --- workloads: lists of (path, body) posts, and how many alerts each holds ---

def monitor_alerts(n: int, storm: bool, tag: str) -> list[tuple[str, bytes, int]]:
    base = json.loads((FIXTURES / "monitor" / "monitor-metric-static-fired.test-action.json").read_text())
    ess = base["data"]["essentials"]
    rg = "/subscriptions/s/resourcegroups/bench/providers/microsoft.storage/storageaccounts/"
    out = []
    for i in range(n):
        ess["alertId"] = f"/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/{tag}-{i}"
        if storm:
            ess["alertRule"] = f"bench-storm-rule-{tag}"
            ess["alertTargetIDs"] = [f"{rg}res{i}"]
            ess["configurationItems"] = [f"res{i}"]
        else:  # distinct alerts on distinct resources, the single workload of throughput.py
            ess["alertTargetIDs"] = [f"{rg}single{tag}{i}"]
            ess["configurationItems"] = [f"single{tag}{i}"]
        out.append(("/api/alerts", json.dumps(base).encode(), 1))
    return out


def aml_batches(n: int, tag: str, status: str = "failed") -> list[tuple[str, bytes, int]]:
    """RunStatusChanged events of N runs (distinct run ids), in Event Grid batches of 100."""
    [proto] = json.loads((FIXTURES / "aml" / "aml-runstatuschanged-failed.eventgrid.json").read_text())
    out = []
    for start in range(0, n, BATCH):
        events = []
        for i in range(start, min(n, start + BATCH)):
            ev = copy.deepcopy(proto)
            ev["id"] = f"{tag}-{status}-{i}"
            ev["data"]["runId"] = f"run-{tag}-{i}"
            ev["data"]["runStatus"] = status
            events.append(ev)
        out.append(("/api/eventgrid", json.dumps(events).encode(), len(events)))
    return out


def resolutions(alerts: list[tuple[str, bytes, int]]) -> list[tuple[str, bytes, int]]:
    """The same alerts resolved, ten minutes after the fixture's fired time."""
    out = []
    for path, body, k in alerts:
        doc = json.loads(body)
        ess = doc["data"]["essentials"]
        ess["monitorCondition"], ess["resolvedDateTime"] = "Resolved", "2025-04-15T18:27:12.851Z"
        out.append((path, json.dumps(doc).encode(), k))
    return out


def posts(workload: str, n: int, tag: str):
    if workload in ("batch", "runs"):
        return aml_batches(n, tag)
    if workload == "resolved":
        return resolutions(monitor_alerts(n, False, tag))
    return monitor_alerts(n, workload == "storm", tag)


# --- the app as the Functions host builds it, on a store whose requests are counted ---

class Harness:
    def __init__(self, connection_string: str, data_dir: Path, config: Path):
        from alertrouter.app import App
        from alertrouter.build import _deliver_on_functions, dispatcher_for
        from alertrouter.config.load import load
        from alertrouter.http.api import HttpApi
        from alertrouter.settings import AzureStorage
        from alertrouter.store.azure import AzureStore

        tag = uuid.uuid4().hex[:10]
        prefix = f"bench{tag}"
        self.counter = RequestCounter(prefix)
        settings = AzureStorage(connection_string=connection_string, table_prefix=prefix, queue_name=f"bench-{tag}")
        store = AzureStore.from_settings(settings, raw_request_hook=self.counter)
        self.app = App(load(config), data_dir, store=store)
        self.dispatcher = dispatcher_for(self.app, workers=1)
        _deliver_on_functions(self.app, self.dispatcher, "azure")  # intake enqueues, as on Functions
        self.enqueued: list[list[str]] = []  # the messages the store sent, as the ids they name
        self.app.listeners.append(self._messages)
        self.api = HttpApi(self.app)

    def post(self, path: str, body: bytes) -> dict:
        from alertrouter.http.api import Request

        req = Request("POST", path, {"content-type": "application/json", "aeg-event-type": "Notification"},
                      body=body)
        answer = (self.api.eventgrid if path == "/api/eventgrid" else self.api.alerts)(req)
        if answer.status != 200:
            raise RuntimeError(f"POST {path}: HTTP {answer.status}: {answer.body[:300]!r}")
        return json.loads(answer.body)

    def _messages(self, notifications) -> None:
        """The messages the store's enqueue sends for an intake call's notifications."""
        from alertrouter.store.azure import messages

        self.enqueued += [m.split("\n") for m in messages([n.id for n in notifications])]

    def deliver_enqueued(self) -> int:
        """What the queue trigger does, one message at a time."""
        messages, self.enqueued = self.enqueued, []
        return sum(self.dispatcher.run_once(ids) for ids in messages)

    def close(self) -> None:
        self.dispatcher.stop(5)
        self.app.store.close()


def run(workload: str, n: int, connection_string: str, trace: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="azure-path-") as tmp:
        config = ROOT / "routing.yaml"
        if workload not in ("storm", "runs"):
            config = Path(tmp) / "routing.yaml"
            config.write_text(BENCH_CONFIG)
        h = Harness(connection_string, Path(tmp) / "data", config)
        try:
            tag = uuid.uuid4().hex[:8]
            for path, body, _ in posts("single", 1, f"warm{tag}"):  # one-time reads out of the count
                h.post(path, body)
            h.deliver_enqueued()
            if workload in ("resolved", "runs"):  # their firings or starts first, not counted
                for path, body, _ in monitor_alerts(n, False, tag) if workload == "resolved" else \
                        aml_batches(n, tag, "running"):
                    h.post(path, body)
                h.deliver_enqueued()
            work = posts(workload, n, tag)
            alerts = sum(k for _, _, k in work)
            h.counter.reset()
            h.counter.trace = trace
            notifications = pending = 0
            wall = time.perf_counter()
            cpu = time.process_time()
            for path, body, _ in work:
                notifications += h.post(path, body)["notifications"]
            cpu_in, wall_in = time.process_time() - cpu, time.perf_counter() - wall
            intake, intake_by = dict(h.counter.counts), dict(h.counter.callers)
            pending = sum(map(len, h.enqueued))
            h.counter.reset()
            wall = time.perf_counter()
            cpu = time.process_time()
            delivered = h.deliver_enqueued()
            cpu_out, wall_out = time.process_time() - cpu, time.perf_counter() - wall
            delivery, delivery_by = dict(h.counter.counts), dict(h.counter.callers)
        finally:
            h.close()
    return {"workload": workload, "alerts": alerts, "notifications": notifications, "enqueued": pending,
            "delivered": delivered,
            "requests_in": sum(intake.values()), "requests_out": sum(delivery.values()),
            "cpu_ms_in": 1000 * cpu_in / alerts, "cpu_ms_out": 1000 * cpu_out / max(1, delivered),
            "wall_ms_in": 1000 * wall_in / alerts, "wall_ms_out": 1000 * wall_out / max(1, delivered),
            "intake": intake, "delivery": delivery,
            "intake_by": {f"{k} | {c}": v for (k, c), v in intake_by.items()},
            "delivery_by": {f"{k} | {c}": v for (k, c), v in delivery_by.items()}}


def report(r: dict, trace: bool) -> str:
    a, d = r["alerts"], max(1, r["delivered"])
    lines = [f"\n{r['workload']}: {a} alerts in, {r['notifications']} notifications "
             f"({r['enqueued']} enqueued, {r['delivered']} delivered)",
             f"  take in: {r['requests_in'] / a:.2f} requests per alert, {r['cpu_ms_in']:.2f} ms CPU, "
             f"{r['wall_ms_in']:.2f} ms wall",
             f"  deliver: {r['requests_out'] / d:.2f} requests per notification, {r['cpu_ms_out']:.2f} ms CPU, "
             f"{r['wall_ms_out']:.2f} ms wall"]
    for phase, per, key in (("take in", a, "intake_by" if trace else "intake"),
                            ("deliver", d, "delivery_by" if trace else "delivery")):
        lines.append(f"  {phase}, per {'alert' if phase == 'take in' else 'notification'}:")
        for op, count in sorted(r[key].items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {count / per:6.2f}  {op}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workload", choices=["single", "resolved", "batch", "runs", "storm", "all"], default="all")
    ap.add_argument("--n", type=int, default=200, help="alerts per workload (default 200; batch: in batches of 100)")
    ap.add_argument("--trace-n", type=int, default=20,
                    help="alerts in the pass that names the code behind each request (0: no such pass)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.n < 1:
        ap.error("--n must be at least 1")
    os.environ.pop("ALERTROUTER_STORE", None)
    os.environ.pop("BENCH_UNSET_HOOK_URL", None)
    for name in re.findall(r"\$\{(\w+)\}", (ROOT / "routing.yaml").read_text()):  # notices to the log channel
        os.environ.pop(name, None)
    import logging

    logging.getLogger("alertrouter").setLevel(logging.WARNING)  # a log line per event is not the path's cost
    azurite = None
    conn = os.environ.get("ALERTROUTER_AZURE__CONNECTION_STRING", "")
    if not conn:
        from tests.store.azurite import Azurite, missing_reason

        reason = missing_reason(ROOT)
        if reason:
            ap.error(f"needs ALERTROUTER_AZURE__CONNECTION_STRING or Azurite: {reason}")
        azurite = Azurite(ROOT).start()
        conn = azurite.connection_string
    workloads = ["single", "resolved", "batch", "runs", "storm"] if args.workload == "all" else [args.workload]
    results = []
    quiet = open(os.devnull, "w")  # the log channel's console blocks (on Functions: the host's log)
    try:
        for w in workloads:
            if args.trace_n:
                with contextlib.redirect_stderr(quiet):
                    traced = run(w, min(args.trace_n, args.n) if w not in ("batch", "runs") else BATCH, conn,
                                 trace=True)
                if not args.json:
                    print(report(traced, trace=True), flush=True)
            with contextlib.redirect_stderr(quiet):
                r = run(w, args.n, conn, trace=False)
            results.append(r)
            if not args.json:
                print(report(r, trace=False), flush=True)
    finally:
        quiet.close()
        if azurite is not None:
            azurite.stop()
    if args.json:
        print(json.dumps(results))
        return
    print("\nper alert (take in) and per notification (deliver), N =", args.n)
    print(f"{'workload':<8} {'req in':>7} {'req out':>8} {'CPU in ms':>10} {'CPU out ms':>11} {'alerts/s':>9}")
    for r in results:
        rate = r["alerts"] / (r["wall_ms_in"] * r["alerts"] / 1000 + r["wall_ms_out"] * max(1, r["delivered"]) / 1000)
        print(f"{r['workload']:<8} {r['requests_in'] / r['alerts']:>7.2f} "
              f"{r['requests_out'] / max(1, r['delivered']):>8.2f} {r['cpu_ms_in']:>10.2f} {r['cpu_ms_out']:>11.2f} "
              f"{rate:>9.1f}")


if __name__ == "__main__":
    main()
