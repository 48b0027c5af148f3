"""Composition root: config → router → renderer → channels → store, and intake.

    ingest(events): route each → write the event and its notifications to the outbox in one step
                    (an event id seen before adds nothing) → tell the listeners (dispatcher wake-up
                    or queue) → answer. Delivery happens after, in the dispatcher.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .channels.base import Channel
from .channels.registry import build_channels
from .config.load import LOG_CHANNEL, LoadedConfig, load
from .metrics import Metrics
from .model import Event
from .render import Rendered, Renderer
from .routing.router import Decision, Router, Target
from .settings import Settings
from .store.base import Notification, Store
from .store.sqlite import SqliteStore

log = logging.getLogger("alertrouter")


@dataclass
class IngestResult:
    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "accepted": len(self.accepted),
            "duplicates": len(self.duplicates),
            "notifications": len(self.notifications),
        }


class App:
    def __init__(self, loaded: LoadedConfig, data_dir: str | Path, templates_dir: str | Path | None = None,
                 store: Store | None = None, clock: Callable[[], float] = time.time):
        self.loaded = loaded
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.router = Router(loaded)
        self.renderer = Renderer(templates_dir)
        self.channels = build_channels(loaded, self.data_dir)
        self.store: Store = store or SqliteStore(self.data_dir / "alertrouter.db")
        self.clock = clock
        self.listeners: list[Callable[[list[Notification]], None]] = []
        self.metrics = Metrics()
        self.metrics.watch_store(self.store.counts, self.store.oldest_pending)

    @classmethod
    def from_settings(cls, settings: Settings, base: Path, store: Store | None = None) -> "App":
        """For the Functions host: paths in the settings are relative to the app root."""
        config, data = Path(settings.config), Path(settings.data_dir)
        return cls(load(config if config.is_absolute() else base / config),
                   data if data.is_absolute() else base / data, settings.templates or None, store=store)

    def plan(self, event: Event) -> Decision:
        return self.router.route(event)

    def ingest(self, events: list[Event]) -> IngestResult:
        result = IngestResult()
        items = []
        for event in events:
            targets = self.router.route(event).targets
            items.append((event, [Notification(id=notification_id(event.id, t), event_id=event.id, route=t.route,
                                               role=t.role, channel=t.channel, fallback_from=t.fallback_from)
                                  for t in targets]))
        if not items:
            return result
        for (event, _), outcome in zip(items, self.store.ingest(items, self.clock())):
            if outcome.new:
                result.accepted.append(event.id)
                result.notifications.extend(outcome.notifications)
                self.metrics.events.labels(event.source, event.kind).inc()
                log.info("event taken in: %s [%s] %s → %d notification(s)", event.kind, event.severity.value,
                         event.title, len(outcome.notifications), extra={"event_id": event.id})
            else:
                result.duplicates.append(event.id)
                self.metrics.duplicates.labels(event.source).inc()
                log.info("duplicate event %s (%s) acknowledged, not routed again", event.id, event.kind,
                         extra={"event_id": event.id})
        if result.notifications:
            for listener in self.listeners:
                listener(result.notifications)
        return result

    def render(self, event: Event, target: Target, channel: Channel) -> Rendered:
        """The notification for one target, rendered for its role and channel."""
        return render_notification(self.loaded, self.renderer, self.store, event, target, channel)

    def channel_for(self, target: Target) -> Channel:
        return self.channels.get(target.channel) or self.channels[LOG_CHANNEL]


RUN_ENDINGS = frozenset({"run.completed", "run.failed", "run.canceled"})


def render_notification(loaded: LoadedConfig, renderer: Renderer, store: Store | None, event: Event,
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
        channel=target.channel, channel_kind=getattr(channel, "template_kind", channel.kind), parts=channel.parts, visibility=role.visibility,
        template_dirs=dirs, recipients=role.recipients.model_dump() if role.recipients else {},
        started_at=started_at,
    )


def notification_id(event_id: str, target: Target) -> str:
    """Stable id of one notification (event + route + role + channel): the receivers' idempotency key."""
    key = "\x1f".join((event_id, target.route, target.role, target.channel))
    return "n_" + hashlib.sha256(key.encode()).hexdigest()[:32]
