"""Acknowledgements: the signed acknowledge link a page on an escalating route carries, and the
announcement of an acknowledgement to the route's roles (checking and recording a token is
escalate.verify / escalate.acknowledge)."""

from __future__ import annotations

from datetime import datetime, timezone

from ..config.load import LoadedConfig, target
from ..config.types import Target
from ..model import Event
from . import escalate


class Acknowledgements:
    def __init__(self, loaded: LoadedConfig, store, secret: bytes | None, public_url: str):
        self.loaded, self.store = loaded, store
        self.secret = secret  # None: acknowledgements are off (no links)
        self.public_url = public_url.rstrip("/")
        self.routes = {r.name: r for r in loaded.config.routes}

    def link(self, event: Event, route: str, now: float) -> str | None:
        """The acknowledge link of a fired alert on an escalating route (None for anything else)."""
        r = self.routes.get(route)
        if self.secret is None or r is None or r.escalate is None or event.kind != "alert.fired":
            return None
        token = escalate.make_token(self.secret, event.id, event.fingerprint, route, now)
        return f"{self.public_url}/api/ack?token={token}"

    def announcement(self, ack: escalate.Ack, by: str, now: float) -> tuple[Event, list[Target]] | None:
        """The announcement of an acknowledgement, to the route's roles."""
        event = self.store.get_event(ack.event_id)
        route = self.routes.get(ack.route)
        if event is None or route is None:
            return None
        notice = event.model_copy(update={
            "id": f"ack|{ack.event_id}|{ack.route}", "kind": "alert.acknowledged",
            "title": f"Acknowledged by {by}: {event.title}"[:200],
            "time": datetime.fromtimestamp(now, timezone.utc)})
        roles = self.loaded.config.roles
        return notice, [target(self.loaded, ack.route, role, ch) for role in route.roles for ch in roles[role].channels]
