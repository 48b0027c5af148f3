"""The local server: the Functions routes on uvicorn + Starlette, with the embedded SQLite store."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import threading
import time
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request as StarletteRequest
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route

from ..app import App
from .auth import Authenticator
from ..console import Console, build_console
from ..delivery.dispatcher import Dispatcher
from .hostguard import HostGuard, guarded
from .profiling import profiled
from .api import ROUTES, HttpApi, Request, Response, error
from ..inbound import MAX_BODY_BYTES

log = logging.getLogger("alertrouter.server")
# Intake bodies up to this size are taken in on the event loop (a few events at most: ~150 of the
# smallest Event Grid events, tens of ms); bigger ones on a worker thread.
INLINE_BODY_BYTES = 4096


def create_app(app: App, dispatcher: Dispatcher | None = None, max_body: int | None = None,
               auth: Authenticator | None = None, console: Console | None = None, guard: HostGuard | None = None):
    """The ASGI app on the Functions routes, and the operator console at /. With a dispatcher, it
    starts with the server, is woken by every intake, and on shutdown stops claiming, lets sends under
    way finish and releases the rest. Every request first passes `guard` (Host, and the site a write
    comes from: see hostguard); without one, the names of a loopback bind and the public URL's."""
    guard = guard or HostGuard("127.0.0.1", 0, app.pipeline.public_url or "")
    api = HttpApi(app, max_body or MAX_BODY_BYTES, auth)
    console = console or build_console(app, api.auth)
    if dispatcher is not None and dispatcher.wake not in app.listeners:  # build() may have added it
        app.listeners.append(dispatcher.wake)

    def too_large(path: str) -> Response:
        api.rejected(path.rsplit("/", 1)[-1].lower(), "too_large")
        return error(413, f"request body is over the {api.max_body}-byte limit (ALERTROUTER_MAX_BODY_BYTES)")

    def endpoint(handler):
        async def call(request: StarletteRequest) -> StarletteResponse:
            body = b""
            if request.method in ("POST", "PUT"):
                body = await _receive_body(request.receive, request.headers.get("content-length", ""), api.max_body)
                if body is None:
                    return _to_starlette(too_large(request.url.path))
            req = Request(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                query=dict(request.query_params),
                body=body,
                params=dict(request.path_params),
            )
            if len(body) > INLINE_BODY_BYTES:
                return _to_starlette(await run_in_threadpool(_without_gc, handler, req))
            return _to_starlette(await run_in_threadpool(handler, req))

        return call

    routes = [Route(r.path, endpoint(functools.partial(r.handler, api)), methods=list(r.methods)) for r in ROUTES]
    routes += [Route(path, endpoint(handler), methods=methods) for path, methods, handler in console.routes()]
    @contextlib.asynccontextmanager
    async def lifespan(_):
        if dispatcher is not None:
            dispatcher.start()
        try:
            yield
        finally:
            if dispatcher is not None:
                await run_in_threadpool(dispatcher.stop)
                log.info("dispatcher stopped; pending notifications resume on the next start")

    routed = Starlette(routes=routes, lifespan=lifespan)
    # Intake answers in a few hundred microseconds of CPU and never waits on the network unless Entra
    # tokens are checked (a JWKS fetch), so it is taken in on the event loop, straight from ASGI: two
    # thread hand-offs a request, Starlette's routing and middleware cost more than the work on two cores.
    if api.auth.entra is not None:
        return guarded(routed, guard)
    intake = {"/api/alerts": api.alerts, "/api/eventgrid": api.eventgrid}
    big = [0]  # big intake requests under way (on worker threads)

    async def asgi(scope, receive, send):
        """POST to the two intake routes here; everything else through Starlette."""
        handler = intake.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if handler is None:
            await routed(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = await _receive_body(receive, headers.get("content-length", ""), api.max_body)
        if body is None:
            resp = too_large(scope["path"])
        else:
            query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
            req = Request(method="POST", path=scope["path"], headers=headers, query=query, body=body)
            # a batch bigger than a few events is taken in on a worker thread: on the event loop its
            # seconds of parsing and routing would hold every other request (and /api/health) back;
            # meanwhile small ones go there too, not to wait on the loop for the store's write lock
            if len(req.body) > INLINE_BODY_BYTES:
                big[0] += 1
                try:
                    resp = await run_in_threadpool(_without_gc, handler, req)
                finally:
                    big[0] -= 1
            elif big[0]:
                resp = await run_in_threadpool(handler, req)
            else:
                resp = handler(req)
        await send({"type": "http.response.start", "status": resp.status,
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in resp.headers.items()]
                    + [(b"content-length", str(len(resp.body)).encode())]})
        await send({"type": "http.response.body", "body": resp.body})

    return guarded(asgi, guard)


class _GcPause:
    """The cyclic garbage collector held off while big batches are taken in. A 1 MB batch is a
    million objects alive at once: each full collection while they live scans them all with the
    interpreter held (4 of them, 100-260 ms each, measured on 33,000 events), which stalls every
    other request. Intake makes no reference cycles (a collection after a batch finds none), so
    nothing waits for the collector meanwhile; it is back on when the last big batch is in, and
    batches that overlap without a break for `longest` seconds run one collection."""

    def __init__(self, longest: float = 30.0) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False
        self._since = 0.0
        self.longest = longest

    def __enter__(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                self._since = time.monotonic()
                gc.disable()
            self._holders += 1

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0:
                if self._was_enabled:
                    gc.enable()
            elif self._was_enabled and time.monotonic() - self._since > self.longest:
                self._since = time.monotonic()
                gc.collect()


_gc_pause = _GcPause()


def _without_gc(handler, req: Request) -> Response:
    with _gc_pause:
        return handler(req)


async def _receive_body(receive, declared: str, limit: int) -> bytes | None:
    """The request body, or None when it is over `limit` (checked before and while reading)."""
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def _to_starlette(resp: Response) -> StarletteResponse:
    headers = dict(resp.headers)
    media = headers.pop("Content-Type", None)
    return StarletteResponse(resp.body, status_code=resp.status, headers=headers, media_type=media)


def serve(app: App, dispatcher, host: str = "127.0.0.1", port: int = 7071, log_level: str = "info",
          max_body: int | None = None, auth: Authenticator | None = None, console: Console | None = None,
          allowed_hosts: str = "") -> None:
    """Serve `app` (built by alertrouter/build.py, with its `dispatcher` and `console`) on uvicorn;
    `allowed_hosts` adds Host names to the bound ones (comma-separated, see hostguard)."""
    import uvicorn

    guard = HostGuard(host, port, app.pipeline.public_url, allowed_hosts)
    with profiled():  # ALERTROUTER_PROFILE=file: cProfile over every thread (see profiling)
        uvicorn.run(create_app(app, dispatcher, max_body, auth, console, guard), host=host, port=port, log_level=log_level,
                    access_log=False, http="httptools", timeout_keep_alive=30, timeout_graceful_shutdown=30)
