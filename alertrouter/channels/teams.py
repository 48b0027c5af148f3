"""Microsoft Teams through a Workflows (Power Automate) webhook: one Adaptive Card per notification.

The card is built here as data; only its text (title, text) comes from templates. Card version 1.4
(Power Automate fails to display 1.5 cards) and no 1.5-only elements. Facts come from the role's
view only, so a restricted role's card carries no links, details or run properties (but the tags and
properties its `show:` names). An alert's dimensions and custom properties follow the facts, each
section cut to its rows with a "+N more" line. The serialized message stays under Teams' ~28 KB
limit: long fields are cut with a visible "…truncated".
Workflows answers 202 (the flow runs later); any 2xx is success.

Teams renders a Markdown subset in TextBlocks and facts, so payload text shown there is
Markdown-escaped (`safety.md_escape`: no link, emphasis or list from payload, bare URLs defanged):
fact values and details here, the title and text parts by their templates (`teams/…` templates
escape every value they print; their own Markdown is kept). Links are only `Action.OpenUrl`
buttons from the view's links, which the renderer already limited to https.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import Field

from ..config.base import ChannelSettings
from ..config.types import RateLimit
from ..rendering.renderer import Rendered, plain
from ..rendering.safety import link_allowed, md_escape
from ..rendering.wording import count_text, iso_duration_text, when_text
from .base import Channel, ChannelContext, DeliveryResult, post_json

log = logging.getLogger("alertrouter.channels.teams")

MAX_BYTES = 27 * 1024  # Teams rejects messages over ~28 KB, markup included; keep a margin
TRUNCATED = "…truncated"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
RETIRED_HOSTS = ("webhook.office.com", "outlook.office.com")

HEADINGS = {
    "alert.fired": "Fired", "alert.resolved": "Resolved", "run.started": "Run started",
    "run.completed": "Run completed", "run.failed": "Run failed", "run.canceled": "Run canceled",
    "run.status_changed": "Run status changed", "model.registered": "Model registered",
    "model.deployed": "Model deployed", "dataset.drift_detected": "Data drift detected",
}

WHEN = {"alert.resolved": "Resolved at", "alert": "Fired at", "run.started": "Started at",
        "run.completed": "Ended at", "run.failed": "Ended at", "run.canceled": "Ended at"}

# (fact title, label keys joined by " ", format) in card order; only labels the role can see.
FACTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Alert rule", ("alert_rule",), "{}"),
    ("Resource", ("resource",), "{}"),
    ("Resource group", ("resource_group",), "{}"),
    ("Monitoring service", ("monitoring_service",), "{}"),
    ("Signal", ("signal_type",), "{}"),
    ("Metric", ("metric_name", "time_aggregation"), "{} ({})"),
    ("Metric", ("metric_name",), "{}"),
    ("Condition", ("operator", "threshold"), "{} {}"),
    ("Value", ("metric_value",), "{}"),
    ("Window", ("window_size",), "{}"),
    ("Operation", ("operation_name",), "{}"),
    ("Caller", ("caller",), "{}"),
    ("Budget", ("budget_name",), "{}"),
    ("Spent", ("spent_amount",), "{}"),
    ("Forecast", ("forecasted_amount",), "{}"),
    ("Budget threshold", ("budget_threshold",), "{}"),
    ("Service", ("service",), "{}"),
    ("Region", ("region",), "{}"),
    ("Incident", ("incident_type", "tracking_id"), "{} {}"),
    ("Stage", ("stage",), "{}"),
    ("Workspace", ("workspace",), "{}"),
    ("Experiment", ("experiment",), "{}"),
    ("Run", ("run_id",), "{}"),
    ("Run status", ("run_status",), "{}"),
    ("Model", ("model_name", "model_version"), "{} version {}"),
    ("Model", ("model_name",), "{}"),
    ("Models", ("model_ids",), "{}"),
    ("Endpoint", ("service_name",), "{}"),
    ("Drift monitor", ("drift_name",), "{}"),
    ("Drift coefficient", ("drift_coefficient",), "{}"),
)


# Name/value sections after the facts: which instance fired, the rule's custom properties, and the
# tags and properties a restricted role's `show:` names (the renderer filled each for the role).
SECTIONS = (("Dimensions", "dimensions"), ("Custom properties", "custom_properties"),
            ("Tags and properties", "shown"))


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with a visible marker when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATED) - 1)].rstrip() + " " + TRUNCATED


def colour(view: dict) -> str:
    if view["kind"] in ("alert.resolved", "run.completed"):
        return "good"
    return {"critical": "attention", "error": "attention", "warning": "warning"}.get(view["severity"], "accent")


def facts(view: dict) -> list[tuple[str, str]]:
    labels = view.get("labels") or {}
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    when = WHEN.get(view["kind"]) or WHEN.get(view["family"], "Time")
    for title, keys, fmt in FACTS:
        if title in seen or not all(labels.get(k) for k in keys):
            continue
        value = fmt.format(*(labels[k] for k in keys))
        if title == "Window":
            value = iso_duration_text(value)
        elif title == "Drift coefficient":
            try:
                value = f"{float(value):.3f}"
            except ValueError:
                pass
        out.append((title, value))
        seen.add(title)
    if view.get("duration"):
        out.append(("Duration", view["duration"]))
    if view.get("time"):
        out.append((when, view.get("when") or when_text(view["time"])))
    return out


def section(heading: str, values: dict[str, str], scale: float) -> list[dict[str, Any]]:
    """A headed FactSet of `values`: at most 20 rows (fewer as `scale` shrinks, never under 3), then
    a "+N more" line for the rest."""
    items = list(values.items())
    kept = items[: max(3, int(20 * scale))]
    rows = [{"title": md_escape(clip(str(k), 60)), "value": md_escape(clip(str(v), max(40, int(300 * scale))))}
            for k, v in kept]
    blocks: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": heading, "weight": "Bolder", "separator": True, "spacing": "Medium",
         "wrap": True},
        {"type": "FactSet", "facts": rows},
    ]
    if len(kept) < len(items):
        blocks.append({"type": "TextBlock", "text": f"+{len(items) - len(kept)} more", "isSubtle": True,
                       "spacing": "Small", "wrap": True})
    return blocks


def _strip_html(text: str) -> str:
    return re.sub(r"<[^>]+>", " ", text).strip() if "<" in text else text


def part(msg: Rendered, name: str, default: str = "") -> str:
    """A rendered part as Teams Markdown. A `teams/` template escaped the values it printed; a part
    that is the plain rendering (no template, or the template failed) is payload text as it came,
    and is escaped here."""
    text = msg.parts.get(name) or ""
    if not text:
        return md_escape(default)
    return md_escape(text) if text == plain(msg.view, name) else text


class TeamsChannel(ChannelSettings):
    """Microsoft Teams through a Workflows (Power Automate) 'Teams webhook' URL: an Adaptive Card."""

    type: Literal["teams"]
    url: str = Field(description="The Workflows webhook URL as Teams gives it (a secret: ${ENV_VAR})")
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class TeamsSender(Channel):
    kind: ClassVar[str] = "teams"
    settings: ClassVar[type[ChannelSettings]] = TeamsChannel
    # Teams Workflows webhooks throttle above 4 requests a second
    documented_limit: ClassVar[RateLimit | None] = RateLimit(4, 1.0)
    parts: ClassVar[tuple[str, ...]] = ("title", "text")

    def __init__(self, name: str, cfg: TeamsChannel, ctx: ChannelContext):
        self.name = name
        self.cfg = cfg
        self.timeout = cfg.timeout_seconds
        self.session = ctx.session
        self._url = ctx.resolve(cfg.url)
        host = (urlsplit(self._url).hostname or "").lower()
        if host.endswith(RETIRED_HOSTS):
            log.warning("teams %s: the URL is a retired Office 365 connector (%s); create a Workflows "
                        "'Teams webhook' URL instead", name, host)

    def secret_values(self) -> list[str]:
        sig = parse_qs(urlsplit(self._url).query).get("sig", [])
        return [v for v in (self._url, *sig) if v]

    # -- the card ---------------------------------------------------------------------------------

    def card(self, msg: Rendered, scale: float = 1.0) -> dict:
        """The Adaptive Card; `scale` < 1 shrinks every per-field budget (see `build`)."""
        view = msg.view
        n = lambda size: max(40, int(size * scale))  # noqa: E731
        heading = HEADINGS.get(view["kind"], view["kind"].replace("_", " ").replace(".", " ").capitalize())
        body: list[dict[str, Any]] = [
            {"type": "TextBlock", "text": md_escape(f"{heading.upper()} · {view['sev']} {view['severity']}"),
             "color": colour(view), "weight": "Bolder", "size": "Small", "spacing": "None", "wrap": True},
            {"type": "TextBlock", "text": clip(part(msg, "title", view["title"]), n(400)),
             "size": "Large", "weight": "Bolder", "wrap": True},
        ]
        text = part(msg, "text")
        if text:
            body.append({"type": "TextBlock", "text": clip(text, n(6000)), "wrap": True})
        all_facts = facts(view)
        shown = all_facts[: max(4, int(40 * scale))]
        fact_rows = [{"title": md_escape(clip(t, 60)), "value": md_escape(clip(v, n(600)))} for t, v in shown]
        if len(shown) < len(all_facts):
            hidden = count_text(len(all_facts) - len(shown), "more fact")
            fact_rows.append({"title": "…", "value": f"{hidden} {TRUNCATED}"})
        if fact_rows:
            body.append({"type": "FactSet", "facts": fact_rows, "spacing": "Medium"})
        for heading, key in SECTIONS:
            if view.get(key):
                body.extend(section(heading, view[key], scale))
        details = list((view.get("details") or {}).items())
        if details and scale >= 0.25:
            kept = details[: max(3, int(20 * scale))]
            rows = [{"title": md_escape(clip(k.removeprefix("property."), 60)),
                     "value": md_escape(clip(_strip_html(v), n(300)))} for k, v in kept]
            if len(kept) < len(details):
                hidden = count_text(len(details) - len(kept), "more detail")
                rows.append({"title": "…", "value": f"{hidden} {TRUNCATED}"})
            body.append({"type": "TextBlock", "text": "Details", "weight": "Bolder", "separator": True,
                         "spacing": "Medium", "wrap": True})
            body.append({"type": "FactSet", "facts": rows})
        body.append({"type": "TextBlock", "text": md_escape(clip(f"Route {view['route']} · role {view['role']}", 200)),
                     "isSubtle": True, "size": "Small", "wrap": True, "spacing": "Medium"})
        card: dict[str, Any] = {"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.4", "body": body,
                                "msteams": {"width": "Full"}}
        # http(s) only, whatever built the view (the renderer applied the config's https rule)
        actions = [{"type": "Action.OpenUrl", "title": clip(name, 80), "url": url}
                   for name, url in (view.get("links") or {}).items()
                   if link_allowed(url, allow_http=True) and len(url) <= 4000][:6]
        if actions:
            card["actions"] = actions
        return card

    @staticmethod
    def envelope(card: dict) -> dict:
        return {"type": "message", "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}

    def build(self, msg: Rendered) -> dict:
        """The message envelope, shrunk until it serializes under MAX_BYTES."""
        for scale in (1.0, 0.5, 0.25, 0.1, 0.05):
            message = self.envelope(self.card(msg, scale))
            if len(_dump(message)) <= MAX_BYTES:
                if scale < 1:
                    log.warning("teams %s: notification %s was over %d bytes; fields truncated", self.name,
                                msg.notification_id, MAX_BYTES)
                return message
        log.warning("teams %s: notification %s is too large even truncated; sending a stub card", self.name,
                    msg.notification_id)
        view = msg.view
        return self.envelope({"type": "AdaptiveCard", "$schema": SCHEMA, "version": "1.4", "body": [
            {"type": "TextBlock", "text": clip(part(msg, "title", view["title"]), 300), "wrap": True,
             "weight": "Bolder", "color": colour(view)},
            {"type": "TextBlock", "text": f"The notification was too large for Teams; {TRUNCATED}", "wrap": True},
        ]})

    def send(self, msg: Rendered) -> DeliveryResult:
        return post_json(self.session, self._url, _dump(self.build(msg)), {}, self.timeout,
                         f"teams {self.name}")


def _dump(obj: dict) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
