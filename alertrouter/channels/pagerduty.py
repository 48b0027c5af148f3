"""PagerDuty Events API v2: `trigger` for every event except `alert.resolved`, which sends `resolve`.

The dedup key is a hash of the event fingerprint, so a fired alert and its resolution share it
and it always fits PagerDuty's 255-character limit. The routing key travels in the body (it is
what PagerDuty authenticates by), so `build()` contains it and `secret_values()` names it for
masking. An alert's dimensions and custom properties go in `custom_details` as the objects
`dimensions` and `custom_properties` (at most 50 each, then "…": "+N more"). 202 is success; 400
is permanent; 429 and 5xx are retried (Retry-After honoured).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any, ClassVar, Literal

from pydantic import Field

from ..config.base import ChannelSettings
from ..config.types import RateLimit
from ..rendering.renderer import Rendered
from ..rendering.safety import link_allowed
from ..rendering.visible import CUSTOM, DIMENSION
from .base import Channel, ChannelContext, DeliveryResult, post_json

log = logging.getLogger("alertrouter.channels.pagerduty")

SEVERITY = {"critical": "critical", "error": "error", "warning": "warning", "informational": "info",
            "verbose": "info"}
SUMMARY_MAX = 1024
DETAIL_MAX = 2000  # per custom_details value; PagerDuty's whole-event limit is 512 KB
NAMED_MAX = 50  # dimensions (or custom properties) kept in custom_details; then "…": "+N more"
TRUNCATED = "…truncated"
CLIENT = "alertrouter"


ACTIONS = {"alert.resolved": "resolve", "alert.acknowledged": "acknowledge", "run.stuck_resolved": "resolve",
           "run.missing_resolved": "resolve"}


def dedup_key(fingerprint: str) -> str:
    """Stable across fired/resolved (same fingerprint), ≤ 255 characters."""
    return "alertrouter-" + hashlib.sha256(fingerprint.encode("utf-8")).hexdigest()


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATED) - 1].rstrip() + " " + TRUNCATED


def named(values: dict[str, str]) -> dict[str, str]:
    """At most NAMED_MAX of `values`, each clipped, and "…": "+N more" for the rest."""
    items = list(values.items())
    out = {k: clip(v, DETAIL_MAX) for k, v in items[:NAMED_MAX]}
    if len(items) > NAMED_MAX:
        out["…"] = f"+{len(items) - NAMED_MAX} more"
    return out


def _first(labels: dict, *keys: str) -> str:
    return next((labels[k] for k in keys if labels.get(k)), "")


class PagerDutyChannel(ChannelSettings):
    """PagerDuty Events API v2: trigger on fired, resolve on resolved, dedup key from the fingerprint."""

    type: Literal["pagerduty"]
    routing_key: str = Field(description="Integration (routing) key; a secret: ${ENV_VAR}")
    url: str = "https://events.pagerduty.com/v2/enqueue"
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class PagerDutySender(Channel):
    kind: ClassVar[str] = "pagerduty"
    settings: ClassVar[type[ChannelSettings]] = PagerDutyChannel
    # PagerDuty Events v2: about 120 events a minute per integration key, over a sliding minute
    documented_limit: ClassVar[RateLimit | None] = RateLimit(120, 60.0)
    pages: ClassVar[bool] = True
    parts: ClassVar[tuple[str, ...]] = ("summary",)

    def __init__(self, name: str, cfg: PagerDutyChannel, ctx: ChannelContext):
        self.name = name
        self.cfg = cfg
        self.timeout = cfg.timeout_seconds
        self.session = ctx.session
        self._routing_key = ctx.resolve(cfg.routing_key)
        self._url = ctx.resolve(cfg.url)

    def secret_values(self) -> list[str]:
        return [self._routing_key] if self._routing_key else []

    def build(self, msg: Rendered) -> dict:
        view = msg.view
        event: dict[str, Any] = {
            "routing_key": self._routing_key,
            "event_action": ACTIONS.get(view["kind"], "trigger"),
            "dedup_key": dedup_key(view["fingerprint"]),
        }
        if event["event_action"] != "trigger":  # resolve / acknowledge: the key is all PagerDuty needs
            return event
        labels = view.get("labels") or {}
        custom: dict[str, Any] = {k: clip(v, DETAIL_MAX) for k, v in labels.items()
                                  if not k.startswith((DIMENSION, CUSTOM))}
        custom.update({k: clip(v, DETAIL_MAX) for k, v in (view.get("details") or {}).items()})
        for key in ("dimensions", "custom_properties"):  # which instance fired; the rule's own properties
            if view.get(key):
                custom[key] = named(view[key])
        if view.get("duration"):
            custom["duration"] = view["duration"]
        custom.update(kind=view["kind"], azure_severity=view["sev"], route=view["route"], role=view["role"])
        summary = msg.parts.get("summary") or view["title"]
        if len(summary) > SUMMARY_MAX:
            log.warning("pagerduty %s: summary of notification %s truncated to %d characters", self.name,
                        msg.notification_id, SUMMARY_MAX)
        payload = {
            "summary": clip(summary, SUMMARY_MAX),
            "source": _first(labels, "resource", "service_name", "workspace", "service", "subscription")
                      or view["source"],
            "severity": SEVERITY.get(view["severity"], "info"),
            "timestamp": view["time"],
            "component": _first(labels, "metric_name", "experiment", "model_name", "drift_name", "budget_name",
                                "resource_type"),
            "group": _first(labels, "resource_group", "workspace"),
            "class": _first(labels, "signal_type") or view["kind"],
            "custom_details": custom,
        }
        event["payload"] = {k: v for k, v in payload.items() if v not in ("", None)}
        # http(s) only, whatever built the view (the renderer applied the config's https rule)
        links = [{"href": url, "text": name} for name, url in (view.get("links") or {}).items()
                 if link_allowed(url, allow_http=True)]
        event["client"] = CLIENT
        if links:
            event.update(links=links, client_url=links[0]["href"])
        return event

    def send(self, msg: Rendered) -> DeliveryResult:
        body = json.dumps(self.build(msg), ensure_ascii=False).encode("utf-8")
        return post_json(self.session, self._url, body, {}, self.timeout, f"pagerduty {self.name}",
                         self.secret_values())
