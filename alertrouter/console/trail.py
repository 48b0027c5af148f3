"""An event's trail, for the event page: what the router and each stage did with it, and why.

The routes tried are explained against the config loaded now (the same code as `alertrouter
route`); what the stages decided and what was delivered come from the store (held notifications
keep their reason; each delivery attempt is recorded). Previews are rendered as the dispatcher
would render them, without the acknowledge link (a live credential), with secrets masked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..app import App
from ..delivery.notification import channel_for, render_notification
from ..model import Event
from ..config.types import Target
from ..store.base import Attempt, Notification
from ..delivery.preview import mask_as_html_text
from .mask import configured_secrets, mask, mask_text

SILENCE_ID = re.compile(r"\bs_[0-9a-f]{12}\b")


@dataclass
class RouteStep:
    route: str
    matched: bool
    detail: str


@dataclass
class NotificationView:
    n: Notification
    stage: str  # what decided its fate: silence, inhibition, grouping, lifecycle, budget, window, delivery
    reason: str
    silence_id: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    kind: str = ""  # the channel type: teams, email, smtp, webhook, pagerduty, log
    body_json: str = ""  # exactly what is (or would be) sent, masked
    card_json: str = ""  # the Adaptive Card, for the in-browser renderer
    text: str = ""  # the text part (or the email's text part)
    has_html: bool = False
    preview_error: str = ""


@dataclass
class Trail:
    event: Event
    normalized: str
    raw: str
    routes: list[RouteStep]
    notifications: list[NotificationView]
    silence_matchers: str = ""  # a starting point for "silence events like this one"
    duplicates: int = 0  # redeliveries of this event after it was taken in (acknowledged, dropped)
    duplicate_times: list[float] = field(default_factory=list)  # the latest ones, newest first


# Labels that name "the same thing" well enough to silence it, most specific first.
SILENCE_KEYS = ("alert_rule", "resource", "experiment", "model_name", "service_name", "drift_name", "workspace")


def silence_matchers(event: Event) -> str:
    keys = [k for k in SILENCE_KEYS if event.labels.get(k)][:2]
    lines = [f"{k}={event.labels[k]}" for k in keys] or [f"kind={event.kind}"]
    return "\n".join(lines)


def route_steps(trail_lines: list[str]) -> list[RouteStep]:
    steps = []
    for line in trail_lines:
        name, _, rest = line.partition(": ")
        steps.append(RouteStep(name, rest.startswith("match") or rest.startswith("no route matched"), rest))
    return steps


def stage_of(n: Notification) -> tuple[str, str]:
    detail = n.last_detail or ""
    if n.status == "held":
        for prefix, stage in (("silenced by", "silence"), ("inhibited by", "inhibition"), ("grouped into", "grouping"),
                              ("duplicate end notice", "lifecycle"), ("folded into", "budget")):
            if detail.startswith(prefix):
                return stage, detail
        return "held", detail
    if detail.startswith("deferred until") and n.attempts == 0:
        return "window", detail
    if n.status == "pending" and detail.startswith("waiting: "):  # its channel is down, or at its rate limit
        stage = "rate_limit" if "rate limit" in detail else "delivery"
        return stage, "waiting to be sent: " + detail[len("waiting: "):]
    return "delivery", {"pending": "waiting to be sent", "sent": "sent", "dead": "gave up (dead letter)"}.get(
        n.status, n.status) + (f": {detail}" if detail and not detail.startswith("deferred") else "")


def build_trail(app: App, event: Event) -> Trail:
    decision = app.router.route(event, explain=True)
    secrets = configured_secrets(app)
    views = []
    for n in app.store.notifications_for(event.id):
        stage, reason = stage_of(n)
        found = SILENCE_ID.search(reason) if stage == "silence" else None
        view = NotificationView(n, stage, mask_text(reason, secrets), found.group(0) if found else "",
                                app.store.history(n.id))
        fill_preview(app, event, n, view, secrets)
        views.append(view)
    duplicates, times = app.store.duplicates_of(event.id)
    return Trail(event, json.dumps(mask(event.brief(), secrets), indent=2, ensure_ascii=False),
                 json.dumps(mask(event.raw, secrets), indent=2, ensure_ascii=False), route_steps(decision.trail), views,
                 silence_matchers(event), duplicates, times)


def rendered_for(app: App, event: Event, n: Notification, secrets: tuple[str, ...]):
    """(channel, rendered message, masked body, masked parts) for a stored notification, rendered now."""
    target = Target(n.route, n.role, n.channel, n.fallback_from)
    channel = channel_for(app.channels, target)
    msg = render_notification(app.loaded, app.renderer, app.store, event, target, channel)
    return channel, msg, mask(channel.build(msg), secrets), mask(msg.parts, secrets)


def fill_preview(app: App, event: Event, n: Notification, view: NotificationView, secrets: tuple[str, ...]) -> None:
    try:
        channel, msg, body, parts = rendered_for(app, event, n, secrets)
    except Exception as exc:  # a role or route gone from the config since: say so, keep the page
        view.preview_error = f"cannot render now: {type(exc).__name__}: {mask_text(str(exc), secrets)[:300]}"
        return
    view.kind = channel.kind
    view.body_json = json.dumps(body, indent=2, ensure_ascii=False)
    view.card_json = json.dumps(teams_card(body)) if teams_card(body) else ""
    view.text = parts.get("text", "")
    view.has_html = "html" in parts


def email_html(app: App, event: Event, n: Notification) -> str:
    _, _, _, parts = rendered_for(app, event, n, configured_secrets(app))
    return mask_as_html_text(parts.get("html", ""))


def teams_card(body) -> dict | None:
    """The Adaptive Card inside a Teams message body, or None."""
    if not isinstance(body, dict):
        return None
    for att in body.get("attachments") or []:
        if isinstance(att, dict) and att.get("contentType") == "application/vnd.microsoft.card.adaptive":
            return att.get("content")
    return None

