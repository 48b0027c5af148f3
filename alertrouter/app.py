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
        self.route_templates = {r.name: r.templates for r in loaded.config.routes}
        self.route_templates["default"] = loaded.config.default_route.templates

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
        role = self.loaded.config.roles[target.role]
        route_dirs = [self._template_dir(self.route_templates.get(target.route, ""))]
        recipients = role.recipients.model_dump() if role.recipients else {}
        started_at = None
        if event.kind in RUN_ENDINGS:
            started_at = self.store.first_time(event.fingerprint, "run.started")
        return self.renderer.render(
            event, notification_id=notification_id(event.id, target), route=target.route, role=target.role,
            channel=target.channel, channel_kind=channel.kind, parts=channel.parts, visibility=role.visibility,
            template_dirs=[*route_dirs, self._template_dir(role.templates)], recipients=recipients,
            started_at=started_at,
        )

    def _template_dir(self, path: str) -> str:
        if not path:
            return ""
        p = Path(path)
        return str(p if p.is_absolute() else Path(self.loaded.path).resolve().parent / p)

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


def notification_id(event_id: str, target: Target) -> str:
    """Stable id of one notification (event + route + role + channel): the receivers' idempotency key."""
    key = "\x1f".join((event_id, target.route, target.role, target.channel))
    return "n_" + hashlib.sha256(key.encode()).hexdigest()[:32]
