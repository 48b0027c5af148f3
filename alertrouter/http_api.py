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

from .app import App
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
