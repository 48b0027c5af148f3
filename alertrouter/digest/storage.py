"""What the digest reads from and records in the store, through the store's roles.

- `events_between(store, start, end, kinds)`: the events that happened (their `time`) in
  [start, end), of the given kinds, oldest first (the event log's `events_between`).
- `took_in_before(store, end)`: whether the store took in any event before `end` (the router was
  running then), through the console's event list.
- `PeriodLedger`: the "digest period sent" record, put-if-absent per (digest name, period key), a
  state document: the runner claims a period before it sends, so a retried timer, a restart or a
  second instance finds the claim and sends nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Iterable

from ..model import Event
from ..store.base import ConsoleQueries, EventFilter, EventLog, StateDocuments


def events_between(store: EventLog, start: datetime, end: datetime, kinds: Iterable[str] | None = None) -> list[Event]:
    """Events whose `time` is in [start, end) (aware datetimes), of `kinds` (all when None), by time."""
    return list(store.events_between(start, end, list(kinds) if kinds is not None else None))


def took_in_before(store: ConsoleQueries, end: datetime) -> bool:
    """Whether the store took in (received, by its clock) any event before `end`: any event, the
    router's own too, since each proves the router was running. The event list's newest-first page of
    one, bounded by `until` (on SQLite an index probe; on Azure the event list's index rows)."""
    page = store.list_events(EventFilter(until=end.timestamp()), limit=1)
    return bool(page.events)


STATE_KIND = "digest-period"
_FIELDS = ("digest", "period_start", "period_end", "owner", "claimed_at", "status", "finished_at", "detail")


class PeriodLedger:
    """Which digest periods were claimed (and how their sending ended), put-if-absent: the store's
    versioned state documents (`state_put(..., expected=None)` creates only if absent), kind
    "digest-period", key "NAME@PERIOD_START"."""

    def __init__(self, store: StateDocuments):
        self.store = store

    @staticmethod
    def _key(digest: str, period_start: str) -> str:
        return f"{digest}@{period_start}"

    def claim(self, digest: str, period_start: str, period_end: str, owner: str, now: float) -> bool:
        """Record the period as being sent by `owner`; False when it was recorded before (by anyone)."""
        doc = {"digest": digest, "period_start": period_start, "period_end": period_end, "owner": owner,
               "claimed_at": now, "status": "sending", "finished_at": None, "detail": ""}
        return self.store.state_put(STATE_KIND, self._key(digest, period_start), doc, None, now)

    def finish(self, digest: str, period_start: str, status: str, detail: str, now: float) -> None:
        """How the sending ended: sent, partial, failed or no-recipients (with the per-channel results)."""
        key = self._key(digest, period_start)
        for _ in range(5):  # optimistic: re-read and try again if someone wrote in between
            got = self.store.state_get(STATE_KIND, key)
            if got is None:
                return
            doc, version = got
            if self.store.state_put(STATE_KIND, key, {**doc, "status": status, "detail": detail,
                                                      "finished_at": now}, version, now):
                return

    def force(self, digest: str, period_start: str, period_end: str, owner: str, now: float) -> None:
        """Record a period an operator sends again on purpose (`alertrouter digest --send --force`)."""
        if not self.claim(digest, period_start, period_end, owner, now):
            self.finish(digest, period_start, "sending", f"sent again by {owner}", now)

    def get(self, digest: str, period_start: str) -> dict | None:
        """The period's record (claimed by, status, when finished…), or None if never claimed."""
        got = self.store.state_get(STATE_KIND, self._key(digest, period_start))
        return {k: got[0].get(k) for k in _FIELDS} if got else None


def detail_json(results: dict[str, str]) -> str:
    return json.dumps(results, ensure_ascii=False, sort_keys=True)
