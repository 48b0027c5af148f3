"""The HTTP surface, independent of any server: the Functions handlers and the local server
both turn their request objects into `Request` and call the same methods.

    POST    /api/eventgrid    Event Grid schema or CloudEvents (+ the validation handshake)
    OPTIONS /api/eventgrid    CloudEvents webhook validation (WebHook-Request-Origin)
    POST    /api/alerts       Azure Monitor alerts from Action Groups
    GET     /api/health
    POST    /runtime/webhooks/EventGrid?functionName=NAME   (local server only: Core Tools' path)
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Mapping
from urllib.parse import parse_qsl

from . import ack_page
from .app import App
from .config.schema import parse_duration
from .pipeline import escalate, silences
from .auth import Authenticator
from .errors import MalformedJson, PayloadError, TooLarge, UnsupportedSchema
from .inbound import MAX_BODY_BYTES, parse_body

log = logging.getLogger("alertrouter.http")

EVENTGRID_TRIGGER = "aml_events"
_REASONS = {MalformedJson: "malformed_json", UnsupportedSchema: "unsupported_schema", TooLarge: "too_large"}  # the Event Grid trigger function's name in function_app.py


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
                doc = json.loads(req.body)
                token, by = doc.get("token", token), str(doc.get("by", by)).strip()[:80]
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
        try:
            doc = json.loads(req.body or b"{}")
            if not isinstance(doc, dict):
                raise ValueError
        except ValueError:
            return error(400, "expected a JSON object: {matchers, duration or ends_at, created_by, comment}")
        try:
            starts = float(doc.get("starts_at") or now)
            if "ends_at" in doc:
                ends = float(doc["ends_at"])
            else:
                ends = starts + parse_duration(doc.get("duration", "1h"))
            s = silences.create(self.app.store, matchers=doc.get("matchers") or {}, starts_at=starts, ends_at=ends,
                                created_by=str(doc.get("created_by", "")), comment=str(doc.get("comment", "")),
                                now=now)
        except (silences.SilenceError, ValueError, TypeError) as exc:
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
        parsed = parse_body(req.body, req.header("Content-Type"), endpoint, self.max_body)
        if parsed.handshake is not None:
            if parsed.events:
                return error(400, "a SubscriptionValidationEvent must arrive alone, not with other events")
            log.info("Event Grid subscription validated (subscription %s)", req.header("aeg-subscription-name") or "?")
            return json_response(200, parsed.handshake)
        events = parsed.events
        if endpoint == "eventgrid":
            events = []
            for e in parsed.events:
                if sources.topic_allowed(e.labels.get("topic", "")):
                    events.append(e)
                else:
                    log.warning("dropped event %s: topic %r is not in the allow-list", e.id, e.labels.get("topic", ""),
                                extra={"event_id": e.id})
                    self.app.metrics.dropped.labels("topic_not_allowed").inc()
        result = self.app.ingest(events)
        body = result.as_dict()
        if len(events) != len(parsed.events):
            body["dropped"] = len(parsed.events) - len(events)
        if parsed.ignored:
            body["ignored"] = parsed.ignored
        return json_response(200, body)

    def _guard(self, endpoint: str, fn) -> Response:
        try:
            return fn()
        except PayloadError as exc:
            self.rejected(endpoint, _REASONS.get(type(exc), "bad_payload"))
            return error(exc.status, str(exc))
        except Exception:  # the server keeps serving; Event Grid / Action Groups retry on 5xx
            log.exception("internal error while handling a request")
            return error(500, "internal error; the event was not processed and may be retried")
