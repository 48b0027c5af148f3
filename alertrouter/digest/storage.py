"""What the digest needs from the store, until the Store protocol has it.

- `events_between(store, start, end, kinds)`: the events that happened (their `time`) in
  [start, end), of the given kinds, oldest first.
- `took_in_before(store, end)`: whether the store took in any event before `end` (the router was
  running then), through the Store protocol's event list (both stores).
- `PeriodLedger`: the "digest period sent" record, put-if-absent per (digest name, period key):
  the runner claims a period before it sends, so a retried timer, a restart or a second instance
  finds the claim and sends nothing.

Each uses the store's own methods when it has them (`events_between`; for the record
`claim_digest_period` & co., else the store's versioned state documents), else works on a
`SqliteStore`'s connection (a `digest_periods` table created with CREATE TABLE IF NOT EXISTS).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Iterable

from ..model import Event
from ..store.base import EventFilter

UTC = timezone.utc

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS digest_periods (
    digest TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    owner TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    status TEXT NOT NULL,
    finished_at REAL,
    detail TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (digest, period_start)
);
"""


def _sqlite(store):
    conn = getattr(store, "_conn", None)
    if conn is None:
        raise TypeError(f"{type(store).__name__} has no digest support (needs events_between and the "
                        "digest period record; see alertrouter/digest/storage.py)")
    return conn()


def events_between(store, start: datetime, end: datetime, kinds: Iterable[str] | None = None) -> list[Event]:
    """Events whose `time` is in [start, end) (aware datetimes), of `kinds` (all when None), by time."""
    kinds = list(kinds) if kinds is not None else None
    if hasattr(store, "events_between"):
        return list(store.events_between(start, end, kinds))
    c = _sqlite(store)
    # `time` is ISO 8601 with an offset; julianday() reads the offset, so the comparison is on the
    # instant. A second of slack each side, then the exact test on parsed datetimes.
    lo = (start - timedelta(seconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    hi = (end + timedelta(seconds=1)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    sql = "SELECT body FROM events WHERE julianday(time) >= julianday(?) AND julianday(time) < julianday(?)"
    params: list = [lo, hi]
    if kinds is not None:
        if not kinds:
            return []
        sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params += kinds
    out = []
    for (body,) in c.execute(sql, params).fetchall():
        e = Event.model_validate_json(body)
        if start <= e.time < end:
            out.append(e)
    out.sort(key=lambda e: (e.time, e.id))
    return out


def took_in_before(store, end: datetime) -> bool:
    """Whether the store took in (received, by its clock) any event before `end`: any event, the
    router's own too, since each proves the router was running. The event list's newest-first page of
    one, bounded by `until` (on SQLite an index probe; on Azure the event list's index rows)."""
    page = store.list_events(EventFilter(until=end.timestamp()), limit=1)
    return bool(page.events)


STATE_KIND = "digest-period"
_FIELDS = ("digest", "period_start", "period_end", "owner", "claimed_at", "status", "finished_at", "detail")


class PeriodLedger:
    """Which digest periods were claimed (and how their sending ended), put-if-absent.

    Backends, first found wins: the store's own digest methods (`claim_digest_period`, …); the
    store's versioned state documents (`state_get` / `state_put(..., expected=None)` creates only if
    absent, on both SqliteStore and AzureStore), kind "digest-period", key "NAME@PERIOD_START"; else
    a `digest_periods` table on a SQLite store's connection.
    """

    def __init__(self, store, backend: str | None = None):
        self.store = store
        if backend is None:
            if all(hasattr(store, m) for m in ("claim_digest_period", "finish_digest_period", "digest_period")):
                backend = "native"
            elif all(hasattr(store, m) for m in ("state_get", "state_put")):
                backend = "state"
            else:
                backend = "table"
        self.backend = backend
        if backend == "table":
            _sqlite(store).executescript(LEDGER_SCHEMA)

    @staticmethod
    def _key(digest: str, period_start: str) -> str:
        return f"{digest}@{period_start}"

    def claim(self, digest: str, period_start: str, period_end: str, owner: str, now: float) -> bool:
        """Record the period as being sent by `owner`; False when it was recorded before (by anyone)."""
        if self.backend == "native":
            return self.store.claim_digest_period(digest, period_start, period_end, owner, now)
        if self.backend == "state":
            doc = {"digest": digest, "period_start": period_start, "period_end": period_end, "owner": owner,
                   "claimed_at": now, "status": "sending", "finished_at": None, "detail": ""}
            return self.store.state_put(STATE_KIND, self._key(digest, period_start), doc, None, now)
        cur = _sqlite(self.store).execute(
            "INSERT OR IGNORE INTO digest_periods (digest, period_start, period_end, owner, claimed_at, status)"
            " VALUES (?, ?, ?, ?, ?, 'sending')", (digest, period_start, period_end, owner, now))
        return cur.rowcount == 1

    def finish(self, digest: str, period_start: str, status: str, detail: str, now: float) -> None:
        """How the sending ended: sent, partial, failed or no-recipients (with the per-channel results)."""
        if self.backend == "native":
            self.store.finish_digest_period(digest, period_start, status, detail, now)
            return
        if self.backend == "state":
            key = self._key(digest, period_start)
            for _ in range(5):  # optimistic: re-read and try again if someone wrote in between
                got = self.store.state_get(STATE_KIND, key)
                if got is None:
                    return
                doc, version = got
                if self.store.state_put(STATE_KIND, key, {**doc, "status": status, "detail": detail,
                                                          "finished_at": now}, version, now):
                    return
            return
        _sqlite(self.store).execute(
            "UPDATE digest_periods SET status = ?, detail = ?, finished_at = ? WHERE digest = ? AND period_start = ?",
            (status, detail, now, digest, period_start))

    def force(self, digest: str, period_start: str, period_end: str, owner: str, now: float) -> None:
        """Record a period an operator sends again on purpose (`alertrouter digest --send --force`)."""
        if not self.claim(digest, period_start, period_end, owner, now):
            self.finish(digest, period_start, "sending", f"sent again by {owner}", now)

    def get(self, digest: str, period_start: str) -> dict | None:
        if self.backend == "native":
            return self.store.digest_period(digest, period_start)
        if self.backend == "state":
            got = self.store.state_get(STATE_KIND, self._key(digest, period_start))
            return {k: got[0].get(k) for k in _FIELDS} if got else None
        row = _sqlite(self.store).execute(
            f"SELECT {', '.join(_FIELDS)} FROM digest_periods WHERE digest = ? AND period_start = ?",
            (digest, period_start)).fetchone()
        return dict(zip(_FIELDS, row)) if row else None


def detail_json(results: dict[str, str]) -> str:
    return json.dumps(results, ensure_ascii=False, sort_keys=True)
