"""The null router: the ceiling for this shape of work in CPython on this machine.

The same server stack as `alertrouter serve` (uvicorn with httptools, intake straight from ASGI),
the same JSON parse of the same payloads, and one webhook POST out per alert over kept-alive
connections from a pool of sending threads (as many as the dispatcher's default workers) — and
nothing else: no routing, no stages, no store, no commit before the answer. `throughput.py --target
null` runs it beside ours and Alertmanager in the same sitting; ours / null says how much of the
machine's Python ceiling the router's own work leaves.

    python benchmarks/null_router.py --port 7072 --hook http://127.0.0.1:9000/hook
"""

from __future__ import annotations

import argparse
import http.client
import json
import queue
import threading
from urllib.parse import urlsplit

WORKERS = 8  # the dispatcher's default `dispatch.workers`


def _sender(host: str, port: int, path: str, out: queue.SimpleQueue) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    while True:
        body = out.get()
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            conn.close()  # reconnect on the next one; the benchmark counts what arrives
            conn = http.client.HTTPConnection(host, port, timeout=30)


def notifications(path: str, doc) -> list[bytes]:
    """One webhook body per alert or event, labelled the way the benchmark's receiver counts ours."""
    if path == "/api/alerts":
        essentials = doc["data"]["essentials"]
        return [json.dumps({"data": {"title": essentials.get("alertRule", ""),
                                     "labels": {"alert_id": essentials["alertId"]}}}).encode()]
    return [json.dumps({"data": {"title": event.get("eventType", ""),
                                 "labels": {"run_id": event["data"]["runId"]}}}).encode() for event in doc]


async def lifespan(receive, send) -> None:
    """Answer an ASGI server's start-up and shut-down (this script's app and the benchmark's receiver)."""
    while True:
        msg = await receive()
        if msg["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif msg["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def read_body(receive) -> bytes:
    """A request's whole body, however many messages it came in."""
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            return body


def make_app(out: queue.SimpleQueue):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            return await lifespan(receive, send)
        body = await read_body(receive)
        status, answer = 200, b'{"status": "ok"}'
        if scope["method"] == "POST" and scope["path"] in ("/api/alerts", "/api/eventgrid"):
            made = notifications(scope["path"], json.loads(body))
            for n in made:
                out.put(n)
            status, answer = 202, json.dumps({"accepted": 1, "notifications": len(made)}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-length", str(len(answer)).encode()), (b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": answer})

    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--hook", required=True, help="the webhook receiver's URL")
    args = ap.parse_args()
    hook = urlsplit(args.hook)
    out: queue.SimpleQueue = queue.SimpleQueue()
    for _ in range(WORKERS):
        threading.Thread(target=_sender, args=(hook.hostname, hook.port, hook.path, out), daemon=True).start()
    uvicorn.run(make_app(out), host="127.0.0.1", port=args.port, log_level="error", access_log=False,
                http="httptools", timeout_keep_alive=30)


if __name__ == "__main__":
    main()
