"""The operator console: server-rendered pages on the `Request`/`Response` seam of `http_api`, so
the local server and an Azure Functions HTTP function serve the same thing.

    GET  /                 events, newest first, filtered, paged
    GET  /event?id=        one event's trail: routes tried, stage decisions, notifications, previews
    GET  /event/email?n=   the email of one notification as it would look (sandboxed frame)
    GET  /silences         silences, and the form (with ?preview=1: what the new one would silence)
    POST /silences         create       POST /silences/expire   expire
    GET  /outbox           pending, sent, dead, held       POST /outbox/redrive   re-drive one or all dead
    GET  /routing          the routing tree                POST /routing/try      try a payload
    POST /routing/whatif   the last 7 days replayed under a pasted or uploaded routing.yaml (nothing kept)
    GET  /noise            the noise report of a period (?since=30d or ?from=&to=), each suggestion's snippet
    GET  /status           config, version, store, outbox depth, per channel last success and failure
    GET  /login  POST /login  POST /logout                 sign in with the operator key
    GET  /static/console/NAME   GET /favicon.ico (the console's icon, for a browser that asks there)
"""

from __future__ import annotations

import functools
import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, urlencode

import jinja2

from .. import __version__
from ..app import App
from ..http.api import Request, Response
from ..model import KINDS, Severity
from ..pipeline import silences as silence_store
from ..store.base import EventFilter
from . import forms, views
from .forms import FormError
from .mask import configured_secrets
from .security import EMAIL_CSP, SECURITY_HEADERS, ConsoleSecurity
from .trail import build_trail, email_html
from .whatif import TooLarge, WhatIf, WhatIfResult, read_form

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".txt": "text/plain; charset=utf-8",
          ".svg": "image/svg+xml"}
PAGE_SIZE = 50


class Console:
    # the noise page reads its period in the request: at most this many source events, the most recent
    # (28,663 events took 6.8 s and 371 MB beside another job on two cores; `alertrouter noise` reports on
    # any period)
    NOISE_EVENTS = 20_000

    def __init__(self, app: App, security: ConsoleSecurity, base: str = ""):
        self.app = app
        self.security = security
        self.base = base.rstrip("/")
        self.started_at = time.time()
        self.whatif = WhatIf(app)
        self.env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                                      undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters.update(ts=views.fmt_time, ago=views.fmt_ago, matchers=forms.matchers_text)
        self.env.globals.update(base=self.base, version=__version__)

    def routes(self) -> list[tuple[str, list[str], object]]:
        """(path, methods, handler) for a server to mount."""
        b = self.base
        return [
            (f"{b}/", ["GET"], self.events), (f"{b}/event", ["GET"], self.event),
            (f"{b}/event/email", ["GET"], self.email), (f"{b}/silences", ["GET", "POST"], self.silences),
            (f"{b}/silences/expire", ["POST"], self.expire), (f"{b}/outbox", ["GET"], self.outbox),
            (f"{b}/outbox/redrive", ["POST"], self.redrive), (f"{b}/routing", ["GET"], self.routing),
            (f"{b}/routing/try", ["POST"], self.try_payload), (f"{b}/routing/whatif", ["POST"], self.what_if),
            (f"{b}/status", ["GET"], self.status),
            (f"{b}/login", ["GET", "POST"], self.login), (f"{b}/logout", ["POST"], self.logout),
            (f"{b}/static/console/{{name}}", ["GET"], self.static), (f"{b}/favicon.ico", ["GET"], self.favicon),
            (f"{b}/noise", ["GET"], self.noise),
        ]

    def dispatch(self, req: Request) -> Response:
        """One entry point for hosts without a router of their own (the Functions HTTP function):
        `req.path` is the URL path."""
        path = req.path.rstrip("/") or "/"
        static = f"{self.base}/static/console/"
        if req.path.startswith(static) and req.method.upper() in ("GET", "HEAD"):
            return self.static(replace(req, params={"name": req.path[len(static):]}))
        for route, methods, handler in self.routes():
            if (route.rstrip("/") or "/") == path and req.method.upper() in methods:
                return handler(req)
        return self._page(req, "error.html", 404, message="No such page.")

    # --- plumbing ---

    def _page(self, req: Request, template: str, status: int = 200, **ctx) -> Response:
        session = self.security.session(req)
        fresh = session is None
        if fresh:
            session = self.security.new_session()
        body = self.env.get_template(template).render(
            csrf=self.security.csrf_token(session), who=self.security.identity(req) or "", page=template,
            cards=template in ("event.html", "routing.html"), easy_auth=self.security.easy_auth, **ctx)
        headers = {**SECURITY_HEADERS, "Content-Type": "text/html; charset=utf-8"}
        if fresh:
            headers["Set-Cookie"] = self.security.set_cookie(session)
        return Response(status, body.encode(), headers)

    def _redirect(self, to: str, cookie: str = "", absolute: bool = False) -> Response:
        headers = {**SECURITY_HEADERS, "Location": to if absolute else self.base + to}
        if cookie:
            headers["Set-Cookie"] = cookie
        return Response(303, b"", headers)

    def _denied(self, req: Request) -> Response:
        return self._page(req, "login.html", 401, next=views.safe_next(req.path, self.base), error="",
                          key_login=self.security.auth.key is not None)

    def _change(self, req: Request) -> tuple[dict[str, str] | None, Response | None]:
        """The form of a POST that may change something, or the refusal."""
        form = forms.parse_form(req.body)
        if not self.security.csrf_ok(req, form):
            return None, self._page(req, "error.html", 403, message="The form expired or came from another site "
                                    "(CSRF check failed). Reload the page and try again.")
        if self.security.identity(req) is None:
            return None, self._denied(req)
        return form, None

    # --- pages ---

    def events(self, req: Request) -> Response:
        if not self.security.may_read(req):
            return self._denied(req)
        q = req.query
        error = ""
        try:
            now = self.app.clock()
            f = EventFilter(source=q.get("source", ""), kind=q.get("kind", ""), severity=q.get("severity", ""),
                            role=q.get("role", ""), labels=forms.parse_labels(q.get("label", "")),
                            since=forms.parse_time(q.get("since", ""), now), until=forms.parse_time(q.get("until", ""), now))
        except (FormError, ValueError) as exc:
            f, error = EventFilter(), str(exc)
        page = self.app.store.list_events(f, q.get("cursor", ""), PAGE_SIZE)
        rows = [views.event_row(self.app.store, e, at) for e, at in page.events]
        fields = ("source", "kind", "severity", "role", "label", "since", "until")
        keep = {k: q[k] for k in fields if q.get(k)}
        cfg = self.app.loaded.config
        return self._page(req, "events.html", 400 if error else 200, rows=rows, q={k: q.get(k, "") for k in fields}, error=error,
                          next_url=f"/?{urlencode({**keep, 'cursor': page.next_cursor})}" if page.next_cursor else "",
                          first_url=f"/?{urlencode(keep)}" if q.get("cursor") else "",
                          sources=["aml", "azure-monitor", "eventgrid", "router"], kinds=KINDS,
                          severities=[s.value for s in Severity], roles=sorted(cfg.roles))

    def event(self, req: Request) -> Response:
        if not self.security.may_read(req):
            return self._denied(req)
        event = self.app.store.get_event(req.query.get("id", ""))
        if event is None:
            return self._page(req, "error.html", 404, message="No such event in the store (it may have been purged).")
        return self._page(req, "event.html", trail=build_trail(self.app, event), quote=quote)

    def email(self, req: Request) -> Response:
        if not self.security.may_read(req):
            return Response(401, b"", {**SECURITY_HEADERS})
        n = self.app.store.get(req.query.get("n", ""))
        event = self.app.store.get_event(n.event_id) if n is not None else None
        if event is None:
            return Response(404, b"no such notification", {**SECURITY_HEADERS, "Content-Type": "text/plain"})
        html = email_html(self.app, event, n)
        return Response(200, html.encode(), {**SECURITY_HEADERS, "Content-Security-Policy": EMAIL_CSP,
                                             "X-Frame-Options": "SAMEORIGIN", "Content-Type": "text/html; charset=utf-8"})

    def silences(self, req: Request) -> Response:
        if req.method.upper() == "POST":
            return self._create_silence(req)
        if not self.security.may_read(req):
            return self._denied(req)
        q = req.query
        draft = {k: q.get(k, "") for k in ("matchers", "duration", "comment", "author")}
        draft["duration"] = draft["duration"] or "1h"
        draft["author"] = draft["author"] or views.author_of(self.security.identity(req))
        if q.get("preview"):
            return self._preview_silence(req, draft)
        return self._silences_page(req, draft, None, "", created=q.get("created", ""))

    def _silences_page(self, req: Request, draft: dict, affected, error: str, created: str = "",
                       status: int = 200) -> Response:
        now = self.app.clock()
        rows = [views.silence_row(s, now) for s in silence_store.all_silences(self.app.store)]
        return self._page(req, "silences.html", 400 if error and status == 200 else status, rows=rows, draft=draft,
                          affected=affected, error=error, created=created)

    def _preview_silence(self, req: Request, draft: dict) -> Response:
        try:
            affected, error = views.open_alerts_matching(self.app.store, forms.parse_matchers(draft["matchers"])), ""
        except (FormError, ValueError) as exc:
            affected, error = None, str(exc)
        return self._silences_page(req, draft, affected, error)

    def _create_silence(self, req: Request) -> Response:
        """The silence form posts here with `do=preview` (show what it would silence, change nothing)
        or `do=create`; either way the page shown again keeps everything typed."""
        form = forms.parse_form(req.body)
        draft = {k: form.get(k, "") for k in ("matchers", "duration", "comment", "author")}
        if form.get("do") == "preview":
            if not self.security.may_read(req):
                return self._denied(req)
            if not self.security.csrf_ok(req, form):
                return self._page(req, "error.html", 403, message="The form expired (CSRF check failed). Reload the page.")
            return self._preview_silence(req, draft)
        form, refused = self._change(req)
        if refused:
            return refused
        now = self.app.clock()
        try:
            matchers = forms.parse_matchers(draft["matchers"])
            ends = now + forms.parse_duration(draft["duration"] or "1h")
            s = silence_store.create(self.app.store, matchers=matchers, starts_at=now, ends_at=ends,
                                     created_by=draft["author"], comment=draft["comment"], now=now)
        except (FormError, silence_store.SilenceError, ValueError) as exc:
            return self._silences_page(req, draft, None, str(exc))
        views.log_change(f"silence {s.id} created by {s.created_by} ({self.security.identity(req)}): {s.comment}")
        return self._redirect(f"/silences?created={quote(s.id)}")

    def expire(self, req: Request) -> Response:
        form, refused = self._change(req)
        if refused:
            return refused
        try:
            s = silence_store.expire(self.app.store, form.get("id", ""), self.app.clock())
        except silence_store.SilenceError as exc:
            return self._page(req, "error.html", 404, message=str(exc))
        views.log_change(f"silence {s.id} expired by {self.security.identity(req)}")
        return self._redirect("/silences")

    def outbox(self, req: Request) -> Response:
        if not self.security.may_read(req):
            return self._denied(req)
        counts = self.app.store.counts()
        status = req.query.get("status", "")
        if status not in ("pending", "sent", "dead", "held"):  # the tab most likely to need attention
            status = next((st for st in ("dead", "pending", "held") if counts.get(st)), "sent")
        rows = self.app.store.list(status, limit=200)
        return self._page(req, "outbox.html", tab=status, rows=rows, counts=counts,
                          redriven=req.query.get("redriven", ""),
                          detail=functools.partial(views.safe_detail, secrets=configured_secrets(self.app)))

    def redrive(self, req: Request) -> Response:
        form, refused = self._change(req)
        if refused:
            return refused
        ids = None if form.get("all") else [i for i in [form.get("id", "")] if i]
        if ids == []:
            return self._page(req, "error.html", 400, message="Name a notification to re-drive, or re-drive all.")
        done = self.app.store.redrive(ids, self.app.clock())
        redriven = [n for n in (self.app.store.get(i) for i in done) if n is not None]
        for listener in self.app.listeners:  # the dispatcher (or the delivery queue) takes them from here
            listener(redriven)
        views.log_change(f"{len(done)} notification(s) re-driven by {self.security.identity(req)}")
        return self._redirect(f"/outbox?status=pending&redriven={len(done)}")

    def routing(self, req: Request) -> Response:
        if not self.security.may_read(req):
            return self._denied(req)
        return self._routing_page(req)

    def _routing_page(self, req: Request, status: int = 200, **ctx) -> Response:
        ctx = {"tried": None, "payload": "", "error": "", "whatif": None, **ctx}
        return self._page(req, "routing.html", status, tree=views.routing_tree(self.app.loaded), quote=quote, **ctx)

    def try_payload(self, req: Request) -> Response:
        form = forms.parse_form(req.body)
        if not self.security.may_read(req):
            return self._denied(req)
        if not self.security.csrf_ok(req, form):
            return self._page(req, "error.html", 403, message="The form expired (CSRF check failed). Reload the page.")
        payload = form.get("payload", "")
        tried, error = views.try_payload(self.app, payload)
        return self._routing_page(req, 400 if error else 200, tried=tried, payload=payload, error=error)

    def what_if(self, req: Request) -> Response:
        """Replay the last 7 days under the posted routing.yaml. It changes nothing, so whoever may
        read the routing page may run it; the CSRF token is still required (a POST that costs CPU)."""
        if not self.security.may_read(req):
            return self._denied(req)
        try:
            sent = read_form(req.body, req.header("content-type"))
        except FormError as exc:
            return self._routing_page(req, 413 if isinstance(exc, TooLarge) else 400,
                                      whatif=WhatIfResult(error=str(exc)))
        if not self.security.csrf_ok(req, {"csrf": sent.csrf}):
            return self._page(req, "error.html", 403, message="The form expired (CSRF check failed). Reload the page.")
        found = self.whatif.run(sent.text, sent.name)
        return self._routing_page(req, 400 if found.failed else 200, whatif=found)

    def status(self, req: Request) -> Response:
        if not self.security.may_read(req):
            return self._denied(req)
        return self._page(req, "status.html", s=views.status(self.app, self.started_at))

    def noise(self, req: Request) -> Response:
        """The noise report of a period (?since=30d, or ?from=&to= as `alertrouter noise` takes them)."""
        from ..noise import build
        from ..replay.period import PeriodError, period, recent_start

        if not self.security.may_read(req):
            return self._denied(req)
        q = {k: req.query.get(k, "").strip() for k in ("since", "from", "to")}
        try:
            start, end = period(self.app.clock(), q["since"] or (None if q["from"] or q["to"] else "30d"),
                                q["from"] or None, q["to"] or None)
        except PeriodError as exc:
            return self._page(req, "noise.html", 400, r=None, q=q, error=str(exc))
        first = recent_start(self.app.store, start, end, self.NOISE_EVENTS)
        report = build(self.app.loaded, self.app.store, first or start, end)
        if first is not None:
            report.notes.insert(0, f"The period holds more than {self.NOISE_EVENTS:,} events, the most this page reports "
                                   f"on at once: this covers the most recent ones, from "
                                   f"{first.strftime('%Y-%m-%d %H:%M:%S')} UTC. `alertrouter noise --from "
                                   f"{start.strftime('%Y-%m-%dT%H:%M:%SZ')} --to {end.strftime('%Y-%m-%dT%H:%M:%SZ')}` "
                                   f"reports on them all.")
        return self._page(req, "noise.html", r=report.as_dict(), q=q, error="")

    def login(self, req: Request) -> Response:
        if req.method.upper() == "GET":
            return self._page(req, "login.html", next=views.safe_next(req.query.get("next", ""), self.base), error="",
                              key_login=self.security.auth.key is not None)
        form = forms.parse_form(req.body)
        nxt = views.safe_next(form.get("next", "/"), self.base)
        wait = self.security.login_wait(req)
        if wait:
            page = self._page(req, "login.html", 429, next=nxt, key_login=self.security.auth.key is not None,
                              error=f"Too many wrong keys: try again in {wait} s.")
            page.headers["Retry-After"] = str(wait)
            return page
        if not self.security.csrf_ok(req, form):
            return self._page(req, "login.html", 403, next=nxt, error="The form expired; try again.",
                              key_login=self.security.auth.key is not None)
        if not self.security.key_valid(form.get("key", "")):
            self.security.login_failed(req)
            return self._page(req, "login.html", 401, next=nxt, error="That is not the operator key.",
                              key_login=self.security.auth.key is not None)
        self.security.login_succeeded(req)
        name = form.get("name", "").strip()[:60] or "operator"
        session = self.security.new_session(f"{name} (operator key)")  # a new session id: a planted one is not kept
        return self._redirect(nxt, self.security.set_cookie(session), absolute=True)

    def logout(self, req: Request) -> Response:
        form = forms.parse_form(req.body)
        if not self.security.csrf_ok(req, form):
            return self._page(req, "error.html", 403, message="The form expired; reload and try again.")
        return self._redirect("/", self.security.set_cookie(self.security.new_session()))

    def static(self, req: Request) -> Response:
        name = req.params.get("name", "")
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file() or path.suffix not in _TYPES:
            return Response(404, b"not found", {**SECURITY_HEADERS, "Content-Type": "text/plain"})
        return Response(200, path.read_bytes(), {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600",
                                                 "Content-Type": _TYPES[path.suffix]})

    def favicon(self, req: Request) -> Response:
        """The icon every page links to, also where browsers look unasked (a page opened on its own)."""
        return self.static(replace(req, params={"name": "favicon.svg"}))

