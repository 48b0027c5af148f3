"""Rendering for delivery: one notification's message for its role and channel, the acknowledge
link on a page of an escalating route, and the channel a target is sent through."""

from __future__ import annotations

import hashlib
from typing import Callable

from ..channels.base import Channel
from ..config.load import LoadedConfig
from ..config.types import LOG_CHANNEL, Target
from ..model import Event
from ..pipeline import RUN_ENDINGS
from ..rendering.renderer import Rendered, Renderer
from ..store.base import Store


def notification_id(event_id: str, target: Target) -> str:
    """Stable id of one notification (event + route + role + channel): the receivers' idempotency key."""
    key = "\x1f".join((event_id, target.route, target.role, target.channel))
    return "n_" + hashlib.sha256(key.encode()).hexdigest()[:32]


def channel_for(channels: dict[str, Channel], target: Target) -> Channel:
    """The channel a target names, or the log channel when it is not built (not configured)."""
    return channels.get(target.channel) or channels[LOG_CHANNEL]


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
        channel=target.channel, channel_kind=channel.template_kind, parts=channel.parts,
        visibility=role.visibility, show=role.show, template_dirs=dirs,
        recipients=role.recipients.model_dump() if role.recipients else {}, started_at=started_at,
    )


class NotificationRenderer:
    """`render(event, target, channel)`: the notification for one target, rendered for its role and
    channel; a page on an escalating route carries its acknowledge link (`ack_link(event, route, now)`
    gives it, or None)."""

    def __init__(self, loaded: LoadedConfig, renderer: Renderer, store: Store,
                 ack_link: Callable[[Event, str, float], str | None], clock: Callable[[], float]):
        self.loaded, self.renderer, self.store = loaded, renderer, store
        self.ack_link, self.clock = ack_link, clock

    def __call__(self, event: Event, target: Target, channel: Channel) -> Rendered:
        link = self.ack_link(event, target.route, self.clock())
        if link:
            event = event.model_copy(update={"links": {**event.links, "Acknowledge": link}})
        return render_notification(self.loaded, self.renderer, self.store, event, target, channel)
