"""What the console's pages show, assembled from the app and the store (no HTML here)."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..app import App
from ..config.load import LoadedConfig
from ..config.schema import DURATION_UNITS
from ..config.types import LOG_CHANNEL
from ..errors import PayloadError
from ..pipeline.explain import explain
from ..inbound import decode, parse_payload
from ..model import Event
from ..pipeline import inhibit
from ..config.matchers import compile_match
from .mask import configured_secrets, mask, mask_text
from .trail import teams_card

log = logging.getLogger("alertrouter.console")


def fmt_time(ts: float | None) -> str:
    if not ts:
        return "–"
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_ago(ts: float | None, now: float | None = None) -> str:
    if not ts:
        return "never"
    import time

    secs = int((now or time.time()) - ts)
    future = secs < 0
    secs = abs(secs)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if secs >= size:
            text = f"{secs // size} {unit}"
            break
    else:
        text = f"{secs} s"
    return f"in {text}" if future else f"{text} ago"


def fmt_duration(seconds: float) -> str:
    """Seconds as routing.yaml writes them: the largest of w, d, h, m, s that divides them whole
    (900 → 15m, 14400 → 4h, 5400 → 90m, 45 → 45s), so what is shown can be pasted back."""
    for unit, size in sorted(DURATION_UNITS.items(), key=lambda u: -u[1])[:-1]:  # w, d, h, m
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def log_change(line: str) -> None:
    log.info("console: %s", line)


def safe_detail(text: str, secrets: tuple[str, ...] = ()) -> str:
    return mask_text(text or "", secrets)


def safe_next(target: str, base: str) -> str:
    """Where to go after signing in: a path of this console, never another site."""
    if target.startswith(base + "/") and not target.startswith("//") and "\\" not in target:
        return target
    return base + "/"


def author_of(identity: str | None) -> str:
    if not identity or identity in ("local operator", "operator key", "Entra identity"):
        return ""
    return identity.removesuffix(" (operator key)")


@dataclass
class EventRow:
    event: Event
    received_at: float
    statuses: dict[str, int]
    roles: list[str]


def event_row(store, event: Event, received_at: float) -> EventRow:
    notes = store.notifications_for(event.id)
    return EventRow(event, received_at, dict(Counter(n.status for n in notes)),
                    sorted({n.role for n in notes}))


@dataclass
class SilenceRow:
    id: str
    matchers: dict
    state: str  # active | pending | expired
    starts_at: float
    ends_at: float
    created_by: str
    comment: str


def silence_row(s, now: float) -> SilenceRow:
    if s.expired_at is not None or s.ends_at <= now:
        state = "expired"
    else:
        state = "active" if s.starts_at <= now else "pending"
    return SilenceRow(s.id, s.matchers, state, s.starts_at, s.expired_at or s.ends_at, s.created_by, s.comment)


def open_alerts_matching(store, matchers: dict) -> list[dict]:
    """The firing alerts a silence with these matchers would silence (raises ValueError on a bad one)."""
    if not matchers:
        raise ValueError("a silence needs at least one matcher")
    compiled, errors = compile_match(matchers)
    if errors:
        raise ValueError("; ".join(f"{k}: {msg}" for k, msg in errors))
    out = []
    for fp, alert in sorted(inhibit.firing(store).items(), key=lambda kv: -kv[1].get("time", 0)):
        labels = alert.get("labels", {})
        if all(m.test(labels.get(m.key)) for m in compiled):
            out.append({"fingerprint": fp, "title": alert.get("title", ""), "since": alert.get("time"),
                        "labels": mask(labels)})
    return out


# --- routing ---

@dataclass
class RouteNode:
    name: str
    matchers: dict
    roles: list[tuple[str, list[tuple[str, str, str]]]]  # role → [(channel, type, state)]
    cont: bool = False
    extras: list[str] = field(default_factory=list)


def _roles(loaded: LoadedConfig, names) -> list:
    cfg = loaded.config
    out = []
    for role in names:
        chans = []
        for ch in cfg.roles[role].channels if role in cfg.roles else []:
            kind = cfg.channels[ch].type if ch in cfg.channels else "log"
            state = "not configured: goes to log" if ch in loaded.unresolved else "configured"
            chans.append((ch, kind, state))
        out.append((role, chans))
    return out


def routing_tree(loaded: LoadedConfig) -> dict:
    cfg = loaded.config
    nodes = []
    for r in cfg.routes:
        extras = []
        if r.group_by is not None:
            extras.append(f"grouped by {', '.join(r.group_by) or 'nothing (one group)'}; wait {fmt_duration(r.group_wait)}, "
                          f"interval {fmt_duration(r.group_interval)}, repeat {fmt_duration(r.repeat_interval)}")
        if r.escalate:
            extras.append(f"escalates to {', '.join(r.escalate.to)} after {fmt_duration(r.escalate.after)} unacknowledged")
        if r.active_during or r.muted_during:
            extras.append("windows: " + ", ".join([*(f"active {w}" for w in r.active_during),
                                                   *(f"muted {w}" for w in r.muted_during)]))
        nodes.append(RouteNode(r.name, r.match, _roles(loaded, r.roles), r.continue_, extras))
    return {"path": loaded.path, "routes": nodes, "default": _roles(loaded, cfg.default_route.roles),
            "inhibit": cfg.inhibit_rules, "windows": cfg.time_windows,
            "roles": {name: role for name, role in sorted(cfg.roles.items())}}


@dataclass
class TriedPreview:
    label: str
    kind: str
    body_json: str
    card_json: str
    text: str
    html: str


def try_payload(app: App, payload: str) -> tuple[dict | None, str]:
    """The `alertrouter route` explanation and the `alertrouter render` previews of a pasted payload."""
    import json

    from ..delivery.preview import previews

    if not payload.strip():
        return None, "Paste a payload (an Event Grid delivery, a CloudEvent or an Azure Monitor alert)."
    try:
        parsed = parse_payload(decode(payload.encode()))
    except PayloadError as exc:
        return None, str(exc)
    explained = explain(app.router, app.pipeline, parsed.events, app.clock())
    secrets = configured_secrets(app)
    shown = []
    for ev, info in zip(parsed.events, explained):
        items = []
        for channel in dict.fromkeys(t["instead_of"] if "instead_of" in t else t["channel"] for t in info["targets"]):
            try:
                found = previews(app.loaded, [ev], channel, None)
            except Exception as exc:  # a channel that cannot be built here: say so, keep the rest
                found = []
                items.append(TriedPreview(f"{channel}: no preview ({type(exc).__name__})", "", "", "",
                                          mask_text(str(exc), secrets)[:300], ""))
            for p in found:
                body = mask(p.body, secrets)
                card = teams_card(body)
                items.append(TriedPreview(p.label, "teams" if card else "", json.dumps(body, indent=2, ensure_ascii=False),
                                          json.dumps(card) if card else "", mask_text(p.parts.get("text", ""), secrets),
                                          mask_text(p.parts.get("html", ""), secrets)))
        shown.append({"info": mask(info, secrets), "previews": items})
    return {"events": shown, "handshake": parsed.handshake is not None}, ""


# --- status ---

def status(app: App, started_at: float) -> dict:
    from .. import __version__

    store = app.store
    counts = store.counts()
    oldest = store.oldest_pending()
    activity = store.channel_activity()
    down = set(app.health.down())
    cfg = app.loaded.config
    secrets = configured_secrets(app)
    channels = []
    for name in [*sorted(cfg.channels), *([] if LOG_CHANNEL in cfg.channels else [LOG_CHANNEL])]:
        kind = cfg.channels[name].type if name in cfg.channels else "log"
        state = ("down" if name in down else "not configured (its notices go to log)" if name in app.loaded.unresolved
                 else "up")
        act = activity.get(name)
        channels.append({"name": name, "type": kind, "state": state,
                         "last_success": act.last_success if act else None,
                         "last_failure": act.last_failure if act else None,
                         "last_failure_detail": mask_text(act.last_failure_detail, secrets) if act else ""})
    return {"config": app.loaded.path, "loaded_at": started_at, "version": __version__,
            "store": type(store).__name__.removesuffix("Store").lower(), "counts": counts,
            "pending": counts.get("pending", 0), "oldest_pending": oldest, "channels": channels,
            "routes": len(cfg.routes), "roles": len(cfg.roles), "now": app.clock()}
