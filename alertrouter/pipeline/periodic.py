"""The periodic pass (the dispatcher's loop, the Functions sweep timer): the notices that are due
now — group notices, the minute's budget summaries, escalations nobody acknowledged — as new
events with their targets, for the outbox. Each is claimed by compare-and-set, so one instance
sends it."""

from __future__ import annotations

from ..config.load import LoadedConfig, target
from ..config.types import Target
from ..model import Event
from ..rendering.wording import duration_text
from . import budget, escalate, group
from .stages import NextFlush


class PeriodicPass:
    def __init__(self, loaded: LoadedConfig, store, next_flush: NextFlush):
        self.loaded, self.store, self.next_flush = loaded, store, next_flush
        self.routes = {r.name: r for r in loaded.config.routes}

    def due(self, now: float) -> list[tuple[Event, list[Target]]]:
        """Due group notices, budget summaries and escalations: (new event, targets) pairs."""
        return [*self._groups(now), *((summary, [t]) for summary, t in budget.due(self.store, now)),
                *self._escalations(now)]

    def _groups(self, now: float) -> list[tuple[Event, list[Target]]]:
        out = []
        ready, self.next_flush.at = group.due(self.store, now)
        for key, doc, version in ready:
            route = self.routes.get(doc["route"])
            if route is None:
                self.store.state_delete(group.KIND, key)
                continue
            notice = group.flush(self.store, key, doc, version, route.repeat_interval, now)
            if notice is not None:
                out.append((notice, [Target(doc["route"], doc["role"], doc["channel"], doc.get("fallback_from", ""))]))
        return out

    def _escalations(self, now: float) -> list[tuple[Event, list[Target]]]:
        out = []
        roles = self.loaded.config.roles
        for key, doc, version in escalate.due(self.store, now):
            if not escalate.claim(self.store, key, doc, version, now):
                continue
            event = self.store.get_event(doc["event_id"])
            if event is None:
                continue
            route = f"{doc['route']}/escalated"
            rule = self.routes[doc["route"]].escalate if doc["route"] in self.routes else None
            waited = rule.after if rule else max(0.0, now - doc["due"])  # the configured wait, as people set it
            escalated = event.model_copy(update={
                "id": f"escalated|{key}",
                "title": f"Not acknowledged after {duration_text(waited)}: {event.title}"[:200]})
            out.append((escalated, [target(self.loaded, route, role, ch) for role in doc["to"]
                                    if role in roles for ch in roles[role].channels]))
        return out
