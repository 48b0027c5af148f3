"""The HTTP surface, independent of any server: the Functions handlers and the local server
both turn their request objects into `Request` and call the same methods, through one route table
(ROUTES, at the end) that each registers.

    POST    /api/eventgrid    Event Grid schema or CloudEvents (+ the validation handshake)
    OPTIONS /api/eventgrid    CloudEvents webhook validation (WebHook-Request-Origin)
    POST    /api/alerts       Azure Monitor alerts from Action Groups
    GET     /api/health
    POST    /runtime/webhooks/EventGrid?functionName=NAME   (local server only: Core Tools' path)
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import parse_qsl

from . import ack_page
from ..app import App
from ..config.schema import parse_duration
from ..pipeline import escalate, silences
from .auth import Authenticator
from ..errors import MalformedJson, PayloadError, TooLarge, UnsupportedSchema, WrongType
from ..inbound import MAX_BODY_BYTES, decode, parse_body
from ..inbound._util import json_type

log = logging.getLogger("alertrouter.http")

EVENTGRID_TRIGGER = "aml_events"  # the Event Grid trigger function's name in function_app.py
_REASONS = {MalformedJson: "malformed_json", UnsupportedSchema: "unsupported_schema", TooLarge: "too_large",
            WrongType: "wrong_type"}
SILENCE_SHAPE = '{"matchers": {"label": "value"}, "duration": "1h" or "ends_at": unix seconds, "created_by", "comment"}'


@dataclass
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # looked up lower-case
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    params: Mapping[str, str] = field(default_factory=dict)  # route parameters ({id})

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "") or ""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, obj: object, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(obj).encode(), {"Content-Type": "application/json", **(headers or {})})


def error(status: int, message: str) -> Response:
    return json_response(status, {"error": message})


class HttpApi:
    def __init__(self, app: App, max_body: int = MAX_BODY_BYTES, auth: Authenticator | None = None):
        self.app = app
        self.max_body = max_body
        self.auth = auth or Authenticator()

    def eventgrid(self, req: Request) -> Response:
        if req.method.upper() == "OPTIONS":
            return self._cloudevents_handshake(req)
        return self._guard("eventgrid", lambda: self._ingest(req, "eventgrid"))

    def alerts(self, req: Request) -> Response:
        return self._guard("alerts", lambda: self._ingest(req, "alerts"))

    # --- acknowledgements (the token is the credential) ---

    def ack(self, req: Request) -> Response:
        """GET/HEAD (a person, or a mail scanner, opened the link): a confirmation page, nothing
        changes. POST acknowledges: the page's form (token and name, form-encoded) gets a page back;
        a script's JSON `{"token", "by"}` (or an empty body with `?token=`) gets JSON."""
        method = req.method.upper()
        token = req.query.get("token", "")
        by = (req.query.get("by") or "").strip()[:80]
        if method in ("GET", "HEAD"):
            return self._ack_page(req, *ack_page.confirm_page(ack_page.preview(self.app, token), token, by,
                                                              head=method == "HEAD"))
        if method != "POST":
            return Response(405, b"", {"Allow": "GET, HEAD, POST"})
        form = req.header("content-type").split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
        if form:
            fields = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
            token, by = fields.get("token", token), (fields.get("by") or by).strip()[:80]
        elif req.body.strip():
            try:
                doc = _json_object(req.body, '{"token": "…", "by": "name"}')
                token, by = doc.get("token", token), str(doc.get("by", by)).strip()[:80]
            except MalformedJson as exc:  # says what was wrong and where
                return error(400, str(exc))
            except (ValueError, AttributeError, RecursionError):
                return error(400, "expected JSON like {\"token\": \"…\", \"by\": \"name\"}")
            if not isinstance(token, str):
                return error(400, "\"token\" must be a string: the token of the acknowledge link")
        by = "".join(c for c in by if c.isprintable())  # a name: no control characters into titles and logs
        try:
            status, text = 200, self.app.acknowledge(token, by or "someone with the link").title
        except escalate.AckError as exc:
            status, text = exc.status, exc.reason
        if form:
            return self._ack_page(req, *ack_page.result_page(status, text))
        return json_response(status, {"acknowledged": text} if status == 200 else {"error": text})

    def _ack_page(self, req: Request, status: int, body: bytes, headers: dict[str, str]) -> Response:
        return Response(status, body, headers)

    # --- silences ---

    def silences(self, req: Request) -> Response:
        verdict = self.auth.check(req)
        if not verdict.ok:
            return json_response(verdict.status, {"error": verdict.reason}, verdict.headers)
        now = self.app.clock()
        if req.method.upper() == "GET":
            return json_response(200, {"silences": [
                {**s.__dict__, "active": s.active(now)} for s in silences.all_silences(self.app.store)]})
        return self._guard("silences", lambda: self._create_silence(req, now))

    def _create_silence(self, req: Request, now: float) -> Response:
        doc = _json_object(req.body, SILENCE_SHAPE)
        matchers = doc.get("matchers") or {}
        if not isinstance(matchers, dict):
            raise WrongType(f'matchers: expected an object like {{"resource": "vm-7"}}, got {json_type(matchers)}')
        starts = _seconds(doc, "starts_at", now)
        if "ends_at" in doc:
            ends = _seconds(doc, "ends_at", now)
        else:
            try:
                ends = starts + parse_duration(doc.get("duration", "1h"))
            except (ValueError, OverflowError) as exc:
                raise WrongType(f"duration: {exc}" if isinstance(exc, ValueError) else "duration: too long") from None
            if not math.isfinite(ends):
                raise WrongType("duration: too long; write it like 30s, 5m, 4h, 1d or 2w")
        try:
            s = silences.create(self.app.store, matchers=matchers, starts_at=starts, ends_at=ends,
                                created_by=str(doc.get("created_by", "")), comment=str(doc.get("comment", "")),
                                now=now)
        except silences.SilenceError as exc:
            return error(400, str(exc))
        log.info("silence %s created by %s: %s", s.id, s.created_by, s.comment)
        return json_response(201, s.__dict__)

    def expire_silence(self, req: Request) -> Response:
        verdict = self.auth.check(req)
        if not verdict.ok:
            return json_response(verdict.status, {"error": verdict.reason}, verdict.headers)
        try:
            s = silences.expire(self.app.store, req.params.get("id", ""), self.app.clock())
        except silences.SilenceError as exc:
            return error(404, str(exc))
        return json_response(200, s.__dict__)

    def metrics(self, req: Request) -> Response:
        return Response(200, self.app.metrics.exposition(),
                        {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    def rejected(self, endpoint: str, reason: str) -> None:
        self.app.metrics.rejected.labels(endpoint, reason).inc()

    def payload_rejected(self, endpoint: str, exc: PayloadError) -> None:
        self.rejected(endpoint, _REASONS.get(type(exc), "bad_payload"))

    def eventgrid_runtime(self, req: Request) -> Response:
        name = req.query.get("functionName") or req.query.get("functionname") or ""
        if name != EVENTGRID_TRIGGER:
            return error(404, f'no Event Grid trigger function named "{name}"; this app has "{EVENTGRID_TRIGGER}"'
                              f" (use ?functionName={EVENTGRID_TRIGGER})")
        return self._guard("runtime", lambda: self._ingest(req, "eventgrid"))

    def health(self, req: Request) -> Response:
        cfg = self.app.loaded.config
        return json_response(200, {
            "status": "ok",
            "config": self.app.loaded.path,
            "routes": len(cfg.routes),
            "roles": len(cfg.roles),
            "channels_unconfigured": sorted(self.app.loaded.unresolved),
            "channels_down": sorted(self.app.health.down()),
            "store": self.app.store.counts(),
        })

    def _cloudevents_handshake(self, req: Request) -> Response:
        origin = req.header("WebHook-Request-Origin")
        headers = {"Allow": "POST, OPTIONS"}
        if origin:
            headers["WebHook-Allowed-Origin"] = origin
            headers["WebHook-Allowed-Rate"] = "*"
        return Response(200, b"", headers)

    def _ingest(self, req: Request, endpoint: str) -> Response:
        verdict = self.auth.check(req)
        if not verdict.ok:
            self.rejected(endpoint, "unauthorized" if verdict.status == 401 else "auth_unavailable")
            return json_response(verdict.status, {"error": verdict.reason}, verdict.headers)
        sources = self.auth.sources
        subscription = req.header("aeg-subscription-name")
        if endpoint == "eventgrid" and not sources.subscription_allowed(subscription):
            log.warning("dropped a delivery from Event Grid subscription %r: not in the allow-list", subscription)
            self.app.metrics.dropped.labels("subscription_not_allowed").inc()
            return json_response(200, {"accepted": 0, "dropped": "subscription not allowed"})
        parsed = parse_body(req.body, req.header("Content-Type"), endpoint, self.max_body, lazy=True)
        if parsed.handshake is not None:
            if parsed.count:
                return error(400, "a SubscriptionValidationEvent must arrive alone, not with other events")
            log.info("Event Grid subscription validated (subscription %s)", req.header("aeg-subscription-name") or "?")
            return json_response(200, parsed.handshake)
        total, kept = parsed.count, 0
        body = {"accepted": 0, "duplicates": 0, "notifications": 0}
        for events in parsed.chunks(self.app.INGEST_CHUNK):  # a big batch: one chunk's Events at a time
            if endpoint == "eventgrid":
                events = [e for e in events if self._topic_allowed(e)]
            kept += len(events)
            for key, n in self.app.ingest(events).as_dict().items():
                body[key] += n
        if kept != total:
            body["dropped"] = total - kept
        if parsed.ignored:
            body["ignored"] = parsed.ignored
        return json_response(200, body)

    def _topic_allowed(self, e) -> bool:
        if self.auth.sources.topic_allowed(e.labels.get("topic", "")):
            return True
        log.warning("dropped event %s: topic %r is not in the allow-list", e.id, e.labels.get("topic", ""),
                    extra={"event_id": e.id})
        self.app.metrics.dropped.labels("topic_not_allowed").inc()
        return False

    def _guard(self, endpoint: str, fn) -> Response:
        try:
            return fn()
        except PayloadError as exc:  # it will never succeed: 4xx, so Event Grid / Action Groups do not retry it
            self.payload_rejected(endpoint, exc)
            return error(exc.status, str(exc))
        except Exception:  # the server keeps serving; Event Grid / Action Groups retry on 5xx
            log.exception("internal error while handling a request")
            return error(500, "internal error; the event was not processed and may be retried")


def _json_object(body: bytes, shape: str) -> dict:
    """A request body that must be one JSON object (silences, acknowledgements): {} when empty, else
    the object, or MalformedJson (a ValueError too) saying what was wrong and the shape expected."""
    if not body.strip():
        return {}
    doc = decode(body)
    if not isinstance(doc, dict):
        raise MalformedJson(f"body: expected a JSON object like {shape}, got {json_type(doc)}")
    return doc


def _seconds(doc: dict, key: str, default: float) -> float:
    """A UNIX time in seconds from a silence body (absent or null: `default`)."""
    value = doc.get(key)
    if not value and not isinstance(value, bool):  # absent, null, "" or 0: the default, as before
        return default
    try:
        seconds = float(value)
    except (ValueError, TypeError, OverflowError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds):
        raise WrongType(f"{key}: expected a UNIX time in seconds, got {json_type(value)}"
                        + (f" {value!r}" if isinstance(value, str) and len(value) <= 40 else ""))
    return seconds


@dataclass(frozen=True)
class HttpRoute:
    """One route of the HTTP API: its path on the local server, its methods, the HttpApi method that
    answers it, and on the Functions host its function's name (empty: local server only) and whether
    that function is anonymous (else auth level FUNCTION: the host checks the function key)."""
    path: str
    methods: tuple[str, ...]
    handler: Callable[[HttpApi, Request], Response]
    function: str = ""
    anonymous: bool = False

    @property
    def function_route(self) -> str:
        """The route the Functions host serves it on (under its /api/ prefix)."""
        return self.path.removeprefix("/api/")


ROUTES: tuple[HttpRoute, ...] = (
    HttpRoute("/api/eventgrid", ("POST", "OPTIONS"), HttpApi.eventgrid, "eventgrid_webhook"),
    HttpRoute("/api/alerts", ("POST",), HttpApi.alerts, "monitor_alerts"),
    HttpRoute("/api/health", ("GET",), HttpApi.health, "health", anonymous=True),
    HttpRoute("/metrics", ("GET",), HttpApi.metrics),
    HttpRoute("/api/ack", ("GET", "HEAD", "POST"), HttpApi.ack, "acknowledge", anonymous=True),  # the token is the key
    HttpRoute("/api/silences", ("GET", "POST"), HttpApi.silences, "silences"),
    HttpRoute("/api/silences/{id}/expire", ("POST",), HttpApi.expire_silence, "expire_silence"),
    HttpRoute("/runtime/webhooks/EventGrid", ("POST",), HttpApi.eventgrid_runtime),  # Core Tools' path
    HttpRoute("/runtime/webhooks/eventgrid", ("POST",), HttpApi.eventgrid_runtime),
)
