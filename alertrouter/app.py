"""Composition root: config → router → renderer → channels → store, and intake.

    ingest(events): route each → write the event and its notifications to the outbox in one step
                    (an event id seen before adds nothing) → tell the listeners (dispatcher wake-up
                    or queue) → answer. Delivery happens after, in the dispatcher.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from .channels.build import build_channels
from .config.load import LoadedConfig
from .delivery.health import ChannelHealth
from .delivery.recent import RecentEvents
from .delivery.notification import NotificationRenderer, notification_id
from .metrics import Metrics
from .ml.watch import Watch
from .model import Event
from .rendering.renderer import Renderer
from .pipeline import Pipeline, Verdict, escalate
from .routing.router import Router
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
                 ack_secret: bytes | None = None, public_url: str = "http://127.0.0.1:7071",
                 metrics: Metrics | None = None):
        self.loaded = loaded
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.router = Router(loaded)
        self.renderer = Renderer(templates_dir, allow_http=loaded.config.links.allow_http)
        self.channels = build_channels(loaded, self.data_dir)
        self.store: Store = store or SqliteStore(self.data_dir / "alertrouter.db")
        self.clock = clock
        self.listeners: list[Callable[[list[Notification]], None]] = []
        self.metrics = metrics if metrics is not None else Metrics()
        self.metrics.watch_store(self.store.counts, self.store.oldest_pending)
        self.pipeline = Pipeline(loaded, self.store, ack_secret, public_url)
        self.watch = Watch(loaded.config.run_watch, self.store)
        self.health = ChannelHealth(self.store)
        # render(event, target, channel): a notification's message, with its acknowledge link
        self.render = NotificationRenderer(loaded, self.renderer, self.store, self.pipeline.acks.link, clock)
        self.recent = RecentEvents(self.store)  # events just taken in, for their deliveries

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
                self.recent.remember(event)
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

    def _notify(self, notifications: list[Notification]) -> None:
        if notifications:
            for listener in self.listeners:
                listener(notifications)

    def tick(self) -> int:
        """Flush due groups and fire due escalations into the outbox; returns the notifications made."""
        now = self.clock()
        at = datetime.fromtimestamp(now, timezone.utc)
        made: list[Notification] = []
        for event, targets in self.pipeline.periodic.due(now):
            decisions = [self.pipeline.window.verdict(t, at) for t in targets]
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
        announced = self.pipeline.acks.announcement(ack, by, now)
        if announced is None:
            raise escalate.AckError(404, "the acknowledged event is no longer in the store")
        notice, targets = announced
        [outcome] = self.store.ingest([(notice, [_notification(notice, Verdict(t, "send")) for t in targets])], now)
        self._notify(outcome.notifications)
        log.info("%s", notice.title, extra={"event_id": ack.event_id})
        return notice


def _notification(event: Event, d: Verdict) -> Notification:
    t = d.target
    return Notification(id=notification_id(event.id, t), event_id=event.id, route=t.route, role=t.role,
                        channel=t.channel, fallback_from=t.fallback_from,
                        status="held" if d.action in ("hold", "group") else "pending",
                        next_attempt_at=d.until, last_detail=d.reason)
