"""Routing core: events per second through normalize + route + render, no I/O, for 10, 100 and
1,000 routes (the cost of a big routing.yaml).

    python benchmarks/routing_core.py [--n 5000] [--json]

Each route matches on an experiment regex and a severity; only the last one matches, so every
event walks the whole list (the worst case).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.transport import make_session
from alertrouter.channels.webhook import WebhookSender
from alertrouter.config.load import loads
from alertrouter.delivery.notification import render_notification
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer
from alertrouter.routing.router import Router

ROOT = Path(__file__).resolve().parent.parent
PAYLOAD = json.loads((ROOT / "tests/fixtures/aml/aml-runstatuschanged-failed.eventgrid.json").read_text())


def config(routes: int) -> str:
    lines = ["channels:", "  hook: {type: webhook, url: 'http://127.0.0.1:9/x'}", "roles:",
             "  ds: {channels: [hook]}", "routes:"]
    for i in range(routes - 1):
        lines.append(f"  - {{name: r{i}, match: {{experiment: {{regex: 'exp-{i}-.*'}}, severity: {{at_least: error}}}}, "
                     "roles: [ds]}")
    lines.append("  - {name: last, match: {kind: run.failed}, roles: [ds]}")
    return "\n".join(lines)


def run(routes: int, n: int) -> dict:
    loaded = loads(config(routes), "bench.yaml", env={})
    router, renderer = Router(loaded), Renderer()
    channel = WebhookSender("hook", loaded.config.channels["hook"], ChannelContext(make_session(), Path("/tmp")))
    body = json.dumps(PAYLOAD).encode()
    start = time.perf_counter()
    for i in range(n):
        [event] = parse_payload(json.loads(body)).events
        for target in router.route(event).targets:
            channel.build(render_notification(loaded, renderer, None, event, target, channel))
    seconds = time.perf_counter() - start
    return {"routes": routes, "n": n, "events_per_s": round(n / seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [run(r, args.n) for r in (10, 100, 1000)]
    if args.json:
        print(json.dumps(rows))
        return
    print("routes   events/s (normalize + route + render, no I/O)")
    for r in rows:
        print(f"{r['routes']:>6}   {r['events_per_s']:>10}")


if __name__ == "__main__":
    main()
