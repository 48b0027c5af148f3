"""Composition root: config → router → renderer → channels → store, and the ingest loop.

    ingest(events): store (idempotent) → route → render per role → send → record the result

Delivery in this cut is synchronous and each result is recorded in the store; retries and the
outbox come with the reliability work.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .channels.base import Channel, DeliveryResult
from .channels.registry import build_channels
from .config.load import LOG_CHANNEL, LoadedConfig, load
from .model import Event
from .render import Rendered, Renderer
from .routing.router import Decision, Router, Target
from .settings import Settings
from .store.sqlite import SqliteStore

log = logging.getLogger("alertrouter")


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    notifications: int = 0
    failed: int = 0

    def as_dict(self) -> dict:
        return {
            "accepted": len(self.accepted),
            "duplicates": len(self.duplicates),
            "notifications": self.notifications,
            "failed_notifications": self.failed,
        }


class App:
    def __init__(self, loaded: LoadedConfig, data_dir: str | Path, templates_dir: str | Path | None = None,
                 store: SqliteStore | None = None):
        self.loaded = loaded
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.router = Router(loaded)
        self.renderer = Renderer(templates_dir)
        self.channels = build_channels(loaded, self.data_dir)
        self.store = store or SqliteStore(self.data_dir / "alertrouter.db")

    @classmethod
    def from_paths(cls, config: str | Path, data_dir: str | Path, templates_dir: str | Path | None = None) -> "App":
        return cls(load(config), data_dir, templates_dir)

    @classmethod
    def from_settings(cls, settings: Settings, base: Path) -> "App":
        """For the Functions host: paths in the settings are relative to the app root."""
        config, data = Path(settings.config), Path(settings.data_dir)
        return cls.from_paths(config if config.is_absolute() else base / config,
                              data if data.is_absolute() else base / data,
                              settings.templates or None)

    def plan(self, event: Event) -> Decision:
        return self.router.route(event)

    def ingest(self, events: list[Event]) -> IngestResult:
        result = IngestResult()
        received = datetime.now(timezone.utc)
        for event in events:
            if not self.store.add_event(event, received):
                result.duplicates.append(event.id)
                log.info("duplicate event %s (%s) acknowledged, not routed again", event.id, event.kind)
                continue
            result.accepted.append(event.id)
            for outcome in self._deliver(event):
                result.notifications += 1
                result.failed += outcome.status != "delivered"
        return result

    def render(self, event: Event, target: Target, channel: Channel) -> Rendered:
        """The notification for one target, rendered for its role and channel."""
        return render_notification(self.loaded, self.renderer, self.store, event, target, channel)

    def channel_for(self, target: Target) -> Channel:
        return self.channels.get(target.channel) or self.channels[LOG_CHANNEL]

    def _deliver(self, event: Event) -> list[DeliveryResult]:
        decision = self.router.route(event)
        outcomes = []
        for target in decision.targets:
            channel = self.channel_for(target)
            rendered = self.render(event, target, channel)
            try:
                outcome = channel.send(rendered)
            except Exception as exc:  # a channel bug must not lose the other notifications
                log.exception("channel %s raised", target.channel)
                outcome = DeliveryResult.permanent(f"{target.channel}: internal error ({type(exc).__name__})")
            if outcome.status != "delivered":
                log.warning("notification %s for %s via %s not delivered: %s", rendered.notification_id,
                            target.role, target.channel, outcome.detail)
            detail = outcome.detail + (f" (instead of {target.fallback_from}: its URL is not set)"
                                       if target.fallback_from else "")
            self.store.record_delivery(event.id, target.route, target.role, target.channel, outcome.status, detail)
            outcomes.append(outcome)
        return outcomes


RUN_ENDINGS = frozenset({"run.completed", "run.failed", "run.canceled"})


def render_notification(loaded: LoadedConfig, renderer: Renderer, store: SqliteStore | None, event: Event,
                        target: Target, channel: Channel) -> Rendered:
    """Render one notification: the route's and the role's template folders first, the role's
    visibility and recipients, and for a run's end the run's start time from the store."""
    cfg = loaded.config
    role = cfg.roles[target.role]
    route_templates = next((r.templates for r in cfg.routes if r.name == target.route),
                           cfg.default_route.templates)
    base = Path(loaded.path).resolve().parent
    dirs = [str(Path(d) if Path(d).is_absolute() else base / d) for d in (route_templates, role.templates) if d]
    started_at = store.first_time(event.fingerprint, "run.started") if store and event.kind in RUN_ENDINGS else None
    return renderer.render(
        event, notification_id=notification_id(event.id, target), route=target.route, role=target.role,
        channel=target.channel, channel_kind=channel.kind, parts=channel.parts, visibility=role.visibility,
        template_dirs=dirs, recipients=role.recipients.model_dump() if role.recipients else {},
        started_at=started_at,
    )


def notification_id(event_id: str, target: Target) -> str:
    """Stable id of one notification (event + route + role + channel): the receivers' idempotency key."""
    key = "\x1f".join((event_id, target.route, target.role, target.channel))
    return "n_" + hashlib.sha256(key.encode()).hexdigest()[:32]
