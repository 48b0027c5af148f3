"""Composition root: config → router → renderer → channels → store, and intake.

    ingest(events): route each → write the event and its notifications to the outbox in one step
                    (an event id seen before adds nothing) → tell the listeners (dispatcher wake-up
                    or queue) → answer. Delivery happens after, in the dispatcher.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .channels.base import Channel
from .channels.health import ChannelHealth
from .channels.build import build_channels
from .config.load import LoadedConfig, load
from .config.types import LOG_CHANNEL, Target
from .metrics import Metrics
from .ml.watch import Watch
from .model import Event
from .render import Rendered, Renderer
from .pipeline import RUN_ENDINGS, Decision, Pipeline, escalate
from .routing.router import Router
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
                 store: Store | None = None, clock: Callable[[], float] = time.time,
                 ack_secret: bytes | None = None, public_url: str = "http://127.0.0.1:7071"):
        self.loaded = loaded
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.router = Router(loaded)
        self.renderer = Renderer(templates_dir, allow_http=loaded.config.links.allow_http)
        self.channels = build_channels(loaded, self.data_dir)
        self.store: Store = store or SqliteStore(self.data_dir / "alertrouter.db")
        self.clock = clock
        self.listeners: list[Callable[[list[Notification]], None]] = []
        self.metrics = Metrics()
        self.metrics.watch_store(self.store.counts, self.store.oldest_pending)
        self.pipeline = Pipeline(loaded, self.store, ack_secret, public_url)
        self.watch = Watch(loaded.config.run_watch, self.store)
        self.health = ChannelHealth(self.store)
        self._recent: OrderedDict[str, Event] = OrderedDict()  # events just taken in, for their deliveries
        self._recent_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings, base: Path, store: Store | None = None) -> "App":
        """For the Functions host: paths in the settings are relative to the app root."""
        config, data = Path(settings.config), Path(settings.data_dir)
        return cls(load(config if config.is_absolute() else base / config),
                   data if data.is_absolute() else base / data, settings.templates or None, store=store,
                   ack_secret=settings.ack_secret.encode() or None, public_url=settings.public_url)

    INGEST_CHUNK = 100  # events per store transaction (about 25 ms of work): other writers wait no longer

    def ingest(self, events: list[Event]) -> IngestResult:
        """Route each event, run the pipeline stages, store the event with its notifications (held
        ones with their reason), then wake the listeners. A big batch goes in INGEST_CHUNK events at
        a time, each chunk its own transaction, its listeners woken when it is committed: requests
        and the dispatcher's writes go in between, and a chunk's working objects are freed before
        the next. A crash after some chunks loses nothing: the sender retries the whole batch (no
        2xx came back) and the committed events are duplicates by their ids, not routed again."""
        result = IngestResult()
        now = self.clock()  # one intake time for the whole request, as before
        for start in range(0, len(events), self.INGEST_CHUNK):
            self._ingest_chunk(events[start:start + self.INGEST_CHUNK], now, result)
        return result

    def _ingest_chunk(self, events: list[Event], now: float, result: IngestResult) -> None:
        items, stages = [], []
        with self.store.transaction(), self.pipeline.batch():  # one commit for the chunk
            for event in events:
                decisions = self.pipeline.decide(event, self.router.route(event).targets, now)
                items.append((event, [_notification(event, d) for d in decisions]))
                stages.append([(d.stage, d.target.route) for d in decisions if d.stage])
            outcomes = self.store.ingest(items, now)
        made: list[Notification] = []
        accepted: list[Event] = []
        for (event, _), outcome, held in zip(items, outcomes, stages):
            if outcome.new:
                for stage, route in held:
                    self.metrics.held.labels(stage, route).inc()
                self._remember(event)
                accepted.append(event)
                made.extend(outcome.notifications)
                self.metrics.events.labels(event.source, event.kind).inc()
                log.info("event taken in: %s [%s] %s → %d notification(s)", event.kind, event.severity.value,
                         event.title, len(outcome.notifications), extra={"event_id": event.id})
            else:
                result.duplicates.append(event.id)
                self.metrics.duplicates.labels(event.source).inc()
                log.info("duplicate event %s (%s) acknowledged, not routed again", event.id, event.kind,
                         extra={"event_id": event.id})
        result.accepted.extend(e.id for e in accepted)
        result.notifications.extend(made)
        self._notify([n for n in made if n.status == "pending"])
        follow = [f for event in accepted for f in self.watch.observe(event, now)]
        if follow:  # a stuck run ended, an overdue experiment started: their resolutions go in too
            self.ingest(follow)

    RECENT = 2048  # events kept in memory after intake, so their deliveries need not read them back

    def _remember(self, event: Event) -> None:
        # without the raw payload, which rendering never reads: half the memory (10 of 21 MB for
        # 2,048 common-schema alerts)
        lite = event.model_copy(update={"raw": None})
        with self._recent_lock:
            self._recent[event.id] = lite
            if len(self._recent) > self.RECENT:
                self._recent.popitem(last=False)

    def event(self, event_id: str) -> Event | None:
        """A stored event, for rendering: from memory when it was just taken in (events are immutable;
        that copy has no raw payload), else the store."""
        found = self._recent.get(event_id)
        return found if found is not None else self.store.get_event(event_id)

    def _notify(self, notifications: list[Notification]) -> None:
        if notifications:
            for listener in self.listeners:
                listener(notifications)

    def tick(self) -> int:
        """Flush due groups and fire due escalations into the outbox; returns the notifications made."""
        now = self.clock()
        at = datetime.fromtimestamp(now, timezone.utc)
        made: list[Notification] = []
        for event, targets in self.pipeline.tick(now):
            decisions = [self.pipeline.window(t, at) for t in targets]
            [outcome] = self.store.ingest([(event, [_notification(event, d) for d in decisions])], now)
            made.extend(outcome.notifications)
            log.info("%s: %d notification(s)", event.title, len(outcome.notifications), extra={"event_id": event.id})
        self._notify(made)
        watched = self.watch.tick(now)
        if watched:
            made.extend(self.ingest(watched).notifications)
        return len(made)

    def acknowledge(self, token: str, by: str) -> Event:
        """Check an acknowledge token, record it (once), stop the escalation, announce it.
        Raises escalate.AckError with the HTTP status to answer."""
        now = self.clock()
        if self.pipeline.ack_secret is None:
            raise escalate.AckError(404, "acknowledgements are not enabled (no ALERTROUTER_ACK_SECRET)")
        ack = escalate.verify(self.pipeline.ack_secret, token, now)
        escalate.acknowledge(self.store, ack, by, now)
        announced = self.pipeline.acknowledgement(ack, by, now)
        if announced is None:
            raise escalate.AckError(404, "the acknowledged event is no longer in the store")
        notice, targets = announced
        [outcome] = self.store.ingest([(notice, [_notification(notice, Decision(t, "send")) for t in targets])], now)
        self._notify(outcome.notifications)
        log.info("%s", notice.title, extra={"event_id": ack.event_id})
        return notice

    def render(self, event: Event, target: Target, channel: Channel) -> Rendered:
        """The notification for one target, rendered for its role and channel; a page on an
        escalating route carries its acknowledge link."""
        link = self.pipeline.ack_link(event, target.route, self.clock())
        if link:
            event = event.model_copy(update={"links": {**event.links, "Acknowledge": link}})
        return render_notification(self.loaded, self.renderer, self.store, event, target, channel)

    def channel_for(self, target: Target) -> Channel:
        return self.channels.get(target.channel) or self.channels[LOG_CHANNEL]


def _notification(event: Event, d: Decision) -> Notification:
    t = d.target
    return Notification(id=notification_id(event.id, t), event_id=event.id, route=t.route, role=t.role,
                        channel=t.channel, fallback_from=t.fallback_from,
                        status="held" if d.action in ("hold", "group") else "pending",
                        next_attempt_at=d.until, last_detail=d.reason)


def render_notification(loaded: LoadedConfig, renderer: Renderer, store: Store | None, event: Event,
                        target: Target, channel: Channel) -> Rendered:
    """Render one notification: the route's and the role's template folders first, the role's
    visibility and recipients, and for a run's end the run's start time from the store."""
    role = loaded.role(target.role)
    dirs = loaded.template_dirs(target.route, target.role)
    started_at = None
    if store is not None and event.kind in RUN_ENDINGS:
        started_at = store.first_time(event.fingerprint, "run.started")
    elif store is not None and event.kind == "alert.resolved":
        started_at = store.first_time(event.fingerprint, "alert.fired")
    return renderer.render(
        event, notification_id=notification_id(event.id, target), route=target.route, role=target.role,
        channel=target.channel, channel_kind=channel.template_kind, parts=channel.parts, visibility=role.visibility,
        template_dirs=dirs, recipients=role.recipients.model_dump() if role.recipients else {},
        started_at=started_at,
    )


def notification_id(event_id: str, target: Target) -> str:
    """Stable id of one notification (event + route + role + channel): the receivers' idempotency key."""
    key = "\x1f".join((event_id, target.route, target.role, target.channel))
    return "n_" + hashlib.sha256(key.encode()).hexdigest()[:32]
