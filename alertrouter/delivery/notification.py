"""Rendering for delivery: one notification's message for its role and channel, the acknowledge
link on a page of an escalating route, and the channel a target is sent through."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from datetime import datetime
from typing import Callable, Protocol

from ..channels.base import Channel
from ..config.load import LoadedConfig
from ..config.types import LOG_CHANNEL, Target
from ..model import Event
from ..pipeline import RUN_ENDINGS
from ..pipeline.inhibit import fired_since
from ..rendering.renderer import Rendered, Renderer
from ..store.base import Store


def notification_id(event_id: str, target: Target) -> str:
    """Stable id of one notification (event + route + role + channel): the receivers' idempotency key."""
    key = "\x1f".join((event_id, target.route, target.role, target.channel))
    return "n_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def channel_for(channels: dict[str, Channel], target: Target) -> Channel:
    """The channel a target names, or the log channel when it is not built (not configured)."""
    return channels.get(target.channel) or channels[LOG_CHANNEL]


class Starts(Protocol):
    def first_time(self, fingerprint: str, kind: str) -> datetime | None: ...

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None: ...


def render_notification(loaded: LoadedConfig, renderer: Renderer, store: Starts | None, event: Event,
                        target: Target, channel: Channel) -> Rendered:
    """Render one notification: the route's and the role's template folders first, the role's
    visibility and recipients, and for a run's or an alert's end when it began: as the event states
    it (`stated_start`), else from the store (a run's start event; the firing the alert's state
    document says the resolution ended)."""
    role = loaded.role(target.role)
    dirs = loaded.template_dirs(target.route, target.role)
    started_at = stated_start(event)
    if started_at is None and store is not None:
        if event.kind in RUN_ENDINGS:
            started_at = store.first_time(event.fingerprint, "run.started")
        elif event.kind == "alert.resolved":
            start = fired_since(store, event)
            started_at = datetime.fromtimestamp(start, event.time.tzinfo) if start is not None else None  # as time is
    return renderer.render(
        event, notification_id=notification_id(event.id, target), route=target.route, role=target.role,
        channel=target.channel, channel_kind=channel.template_kind, parts=channel.parts,
        visibility=role.visibility, show=role.show, template_dirs=dirs,
        recipients=role.recipients.model_dump() if role.recipients else {}, started_at=started_at,
    )


def stated_start(event: Event) -> datetime | None:
    """When the event says what it ends began (a resolved alert's fired time), if that is not after
    the event itself: a duration needs no store read then, and holds even when the start was never
    taken in here (the router deployed later, the firing's event purged)."""
    start = event.started_at
    if start is None:
        return None
    try:
        return start if start <= event.time else None
    except TypeError:  # one with a zone, one without: not comparable, so not used
        return None


class NotificationRenderer:
    """`render(event, target, channel)`: the notification for one target, rendered for its role and
    channel; a page on an escalating route carries its acknowledge link (`ack_link(event, route, now)`
    gives it, or None)."""

    def __init__(self, loaded: LoadedConfig, renderer: Renderer, store: Store,
                 ack_link: Callable[[Event, str, float], str | None], clock: Callable[[], float]):
        self.loaded, self.renderer, self.store = loaded, renderer, store
        self.ack_link, self.clock = ack_link, clock
        self.starts = KeptStarts(store, clock)

    def __call__(self, event: Event, target: Target, channel: Channel) -> Rendered:
        link = self.ack_link(event, target.route, self.clock())
        if link:
            event = event.model_copy(update={"links": {**event.links, "Acknowledge": link}})
        return render_notification(self.loaded, self.renderer, self.starts, event, target, channel)


class KeptStarts:
    """The store's `first_time`, its answers kept for a minute: the notifications of one run's end
    (on the shipped config, to three roles) render with one store read instead of one each (on
    Azure a request each; renders on the dispatcher's concurrent lanes may each miss at once). Only a start found is kept: one not taken in yet (Event Grid may deliver
    a run's start after its end) is asked for again by the next render."""

    SECONDS = 60.0
    KEPT = 1024

    def __init__(self, store: Starts, clock: Callable[[], float]):
        self.store, self.clock = store, clock
        self._kept: OrderedDict[tuple[str, str], tuple[datetime, float]] = OrderedDict()
        self._lock = threading.Lock()  # renders run on the dispatcher's lanes too

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None:
        return self.store.state_get(kind, key)

    def first_time(self, fingerprint: str, kind: str) -> datetime | None:
        key, now = (fingerprint, kind), self.clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and 0 <= now - kept[1] < self.SECONDS:
            return kept[0]
        found = self.store.first_time(fingerprint, kind)
        if found is not None:
            with self._lock:
                self._kept[key] = (found, now)
                self._kept.move_to_end(key)
                while len(self._kept) > self.KEPT:
                    self._kept.popitem(last=False)
        return found
