"""The events just taken in, kept in memory for their deliveries, so that rendering a notification
need not read its event back from the store."""

from __future__ import annotations

import threading
from collections import OrderedDict

from ..model import Event
from ..store.base import Store


class RecentEvents:
    """`remember(event)` at intake; `get(event_id)` for rendering: from memory when it was just taken
    in (events are immutable; that copy has no raw payload), else the store."""

    KEPT = 2048  # events kept in memory after intake

    def __init__(self, store: Store) -> None:
        self.store = store
        self._recent: OrderedDict[str, Event] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, event: Event) -> None:
        # without the raw payload, which rendering never reads: half the memory (10 of 21 MB for
        # 2,048 common-schema alerts)
        lite = event.model_copy(update={"raw": None})
        with self._lock:
            self._recent[event.id] = lite
            if len(self._recent) > self.KEPT:
                self._recent.popitem(last=False)

    def get(self, event_id: str) -> Event | None:
        found = self._recent.get(event_id)
        return found if found is not None else self.store.get_event(event_id)
