"""A store kept in this process's memory: every Store role on dicts, for what lives and dies with
one process — the replay's scratch run above all, where nothing must outlast the command and an
embedded SQLite database spent half the simulation in statements and row encoding.

It honours the same contract as the SQLite and Azure stores (the contract suite runs on it):
- state documents are kept as their JSON text and decoded on each read, so a caller that changes
  what it read (or what it wrote) changes nothing stored, and a value reads back exactly as it
  would from the other stores (tuples as lists, keys as strings);
- events are kept as taken in (the model is frozen) and handed back as they are; notifications
  and attempts are copied in and out;
- one lock serialises every read and write, and `transaction()` holds it: the writes inside are
  undone, in reverse, if the block raises (an event is never left without its notifications);
- the outbox, the console's event list and the counts are scans, not indexes: fine for a scratch
  run or a test, not for a server's months of events.

`close()` keeps the data: a second `MemoryStore(store.data)` sees everything, as a reopened file would.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable, Iterable

from ..model import Event
from .records import (Attempt, ChannelActivity, EventFilter, EventPage, IngestOutcome, Notification, Status,
                      page_cursor, parse_cursor)

_STATUSES = ("pending", "sent", "dead", "held")
_DONE = ("sent", "dead", "held")
_MISSING = object()
# one encoder and decoder for every document (json.dumps with separators makes an encoder per call)
_encode = json.JSONEncoder(separators=(",", ":")).encode
_decode = json.JSONDecoder().decode


@dataclass
class _Stored:
    event: Event
    received_at: float


@dataclass
class MemoryData:
    """What a memory store holds; shared by the stores opened on it."""
    events: dict[str, _Stored] = field(default_factory=dict)  # in the order taken in
    duplicates: dict[str, list[float]] = field(default_factory=dict)  # event id -> redelivery times
    notifications: dict[str, Notification] = field(default_factory=dict)
    by_event: dict[str, list[str]] = field(default_factory=dict)  # event id -> its notification ids
    attempts: dict[str, list[Attempt]] = field(default_factory=dict)
    state: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)  # kind -> key -> (JSON, version)
    lock: threading.RLock = field(default_factory=threading.RLock)


class _Tx:
    """A write block: holds the store's lock; the outermost one keeps the undo of every write inside
    and runs it, in reverse, if the block raises. Nested ones join it."""

    __slots__ = ("store", "outer")

    def __init__(self, store: MemoryStore):
        self.store = store

    def __enter__(self) -> None:
        self.store._lock.acquire()
        self.outer = self.store._undo is None
        if self.outer:
            self.store._undo = []

    def __exit__(self, kind, exc, tb) -> None:
        try:
            if self.outer:
                undo, self.store._undo = self.store._undo, None
                if kind is not None:
                    for step in reversed(undo):
                        step()
        finally:
            self.store._lock.release()


def _copy(n):
    """A copy of a notification or attempt (dataclasses.replace, without its per-field work)."""
    c = object.__new__(type(n))
    c.__dict__.update(n.__dict__)
    return c


class MemoryStore:
    """Every Store role in this process's memory (see the module's docstring)."""

    def __init__(self, data: MemoryData | None = None):
        self.data = data if data is not None else MemoryData()
        self._lock = self.data.lock
        self._undo: list[Callable[[], None]] | None = None  # while a transaction is open (lock held)

    # -- transactions -------------------------------------------------------------------------

    def _tx(self) -> _Tx:
        return _Tx(self)

    def transaction(self):
        """Group writes: they all stand, or (the block raised) none does. Holds the store's lock."""
        return self._tx()

    def _set(self, d: dict, key, value) -> None:
        if self._undo is not None:
            old = d.get(key, _MISSING)
            self._undo.append(lambda: d.__setitem__(key, old) if old is not _MISSING else d.pop(key, None))
        d[key] = value

    def _pop(self, d: dict, key) -> None:
        old = d.pop(key, _MISSING)
        if old is not _MISSING and self._undo is not None:
            self._undo.append(lambda: d.__setitem__(key, old))

    def _append(self, d: dict, key, item) -> None:
        items = d.get(key)
        if items is None:
            self._set(d, key, [item])
            return
        items.append(item)
        if self._undo is not None:
            self._undo.append(items.pop)

    def _change(self, n: Notification, **changes) -> None:
        """Change a stored notification in place (undone as a whole)."""
        if self._undo is not None:
            before = {k: getattr(n, k) for k in changes}
            self._undo.append(lambda: [setattr(n, k, v) for k, v in before.items()])
        for k, v in changes.items():
            setattr(n, k, v)

    def close(self) -> None:
        """Nothing to release; the data stays for a store opened on it again."""

    # -- the event log ------------------------------------------------------------------------

    def ingest(self, items: list[tuple[Event, list[Notification]]], now: float) -> list[IngestOutcome]:
        out: list[IngestOutcome] = []
        d = self.data
        with self._tx():
            for event, notifications in items:
                if event.id in d.events:
                    self._append(d.duplicates, event.id, now)
                    out.append(IngestOutcome(new=False))
                    continue
                self._set(d.events, event.id, _Stored(event, now))
                created = []
                for n in notifications:
                    n.created_at = n.updated_at = now
                    n.next_attempt_at = n.next_attempt_at or now
                    if n.id not in d.notifications:
                        self._set(d.notifications, n.id, _copy(n))
                        self._append(d.by_event, n.event_id, n.id)
                        created.append(n)
                out.append(IngestOutcome(new=True, notifications=created))
        return out

    def get_event(self, event_id: str) -> Event | None:
        with self._lock:
            stored = self.data.events.get(event_id)
        return stored.event if stored is not None else None

    def first_time(self, fingerprint: str, kind: str) -> datetime | None:
        with self._lock:
            times = [s.event.time for s in self.data.events.values()
                     if s.event.fingerprint == fingerprint and s.event.kind == kind]
        return min(times) if times else None

    def events_between(self, start: datetime, end: datetime, kinds: Iterable[str] | None = None) -> list[Event]:
        wanted = set(kinds) if kinds is not None else None
        with self._lock:
            found = [s.event for s in self.data.events.values()
                     if start <= s.event.time < end and (wanted is None or s.event.kind in wanted)]
        found.sort(key=lambda e: e.time)  # stable: the same time keeps the order taken in
        return [e.model_copy(update={"raw": None}) for e in found]

    def duplicates_of(self, event_id: str, limit: int = 20) -> tuple[int, list[float]]:
        with self._lock:
            times = list(self.data.duplicates.get(event_id, ()))
        return len(times), sorted(times, reverse=True)[:limit]

    # -- the outbox ---------------------------------------------------------------------------

    def claim(self, now: float, limit: int, lease_seconds: float, owner: str,
              ids: Iterable[str] | None = None) -> list[Notification]:
        with self._tx():
            notes = self.data.notifications
            pool = notes.values() if ids is None else [notes[i] for i in dict.fromkeys(ids) if i in notes]
            due = [n for n in pool if n.status == "pending" and n.next_attempt_at <= now and n.lease_until <= now]
            due.sort(key=lambda n: n.next_attempt_at)
            for n in due[:max(0, limit)]:
                self._change(n, lease_owner=owner, lease_until=now + lease_seconds)
            return [_copy(n) for n in due[:max(0, limit)]]

    def finish(self, n: Notification, owner: str, attempt: Attempt, status: Status, next_attempt_at: float,
               now: float) -> bool:
        with self._tx():
            stored = self.data.notifications.get(n.id)
            if stored is None or stored.lease_owner != owner:
                return False
            self._change(stored, status=status, attempts=stored.attempts + 1, updated_at=now,
                         next_attempt_at=next_attempt_at, lease_owner="", lease_until=0.0, last_detail=attempt.detail)
            self._append(self.data.attempts, n.id, _copy(attempt))
        return True

    def defer(self, notification_id: str, owner: str, until: float, detail: str, now: float) -> bool:
        with self._tx():
            stored = self.data.notifications.get(notification_id)
            if stored is None or stored.lease_owner != owner:
                return False
            self._change(stored, lease_owner="", lease_until=0.0, next_attempt_at=until, updated_at=now,
                         last_detail=detail)
        return True

    def release(self, ids: Iterable[str], owner: str) -> None:
        with self._tx():
            for nid in ids:
                stored = self.data.notifications.get(nid)
                if stored is not None and stored.lease_owner == owner:
                    self._change(stored, lease_owner="", lease_until=0.0)

    def get(self, notification_id: str) -> Notification | None:
        with self._lock:
            stored = self.data.notifications.get(notification_id)
            return _copy(stored) if stored is not None else None

    def list(self, status: Status | None = None, limit: int = 100) -> list[Notification]:
        with self._lock:
            found = [n for n in self.data.notifications.values() if not status or n.status == status]
            found.sort(key=lambda n: (-n.created_at, n.id))
            return [_copy(n) for n in found[:max(0, limit)]]

    def made_between(self, start: float, end: float) -> list[Notification]:
        with self._lock:
            found = [_copy(n) for n in self.data.notifications.values() if start <= n.created_at < end]
        found.sort(key=lambda n: (n.created_at, n.id))
        return found

    def history(self, notification_id: str) -> list[Attempt]:
        with self._lock:
            found = [_copy(a) for a in self.data.attempts.get(notification_id, ())]
        return sorted(found, key=lambda a: (a.at, a.number))

    def redrive(self, ids: Iterable[str] | None, now: float) -> list[str]:
        with self._tx():
            notes = self.data.notifications
            if ids is None:
                targets = [nid for nid, n in notes.items() if n.status == "dead"]
            else:
                targets = [nid for nid in dict.fromkeys(ids) if nid in notes and notes[nid].status != "pending"]
            for nid in targets:
                self._change(notes[nid], status="pending", attempts=0, next_attempt_at=now, updated_at=now,
                             lease_owner="", lease_until=0.0)
                self._append(self.data.attempts, nid, Attempt(nid, 0, now, "redriven", "re-driven by an operator"))
        return targets

    def purge(self, older_than: float) -> int:
        d = self.data
        with self._tx():
            gone = [nid for nid, n in d.notifications.items() if n.status in _DONE and n.updated_at < older_than]
            for nid in gone:
                n = d.notifications[nid]
                self._pop(d.attempts, nid)
                self._pop(d.notifications, nid)
                left = [i for i in d.by_event.get(n.event_id, ()) if i != nid]
                self._set(d.by_event, n.event_id, left) if left else self._pop(d.by_event, n.event_id)
            for eid in [eid for eid, s in d.events.items() if s.received_at < older_than and eid not in d.by_event]:
                self._pop(d.events, eid)
                self._pop(d.duplicates, eid)
        return len(gone)

    def next_due(self) -> float | None:
        with self._lock:
            due = [max(n.next_attempt_at, n.lease_until) for n in self.data.notifications.values()
                   if n.status == "pending"]
        return min(due) if due else None

    def oldest_pending(self) -> float | None:
        with self._lock:
            made = [n.created_at for n in self.data.notifications.values() if n.status == "pending"]
        return min(made) if made else None

    def counts(self) -> dict[str, int]:
        with self._lock:
            out = dict.fromkeys(("events", *_STATUSES), 0)
            out["events"] = len(self.data.events)
            for n in self.data.notifications.values():
                out[n.status] += 1
        return out

    # -- state documents ----------------------------------------------------------------------

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None:
        with self._lock:
            found = self.data.state.get(kind, {}).get(key)
        return (_decode(found[0]), found[1]) if found is not None else None

    def state_put(self, kind: str, key: str, value: dict, expected: int | None, now: float) -> bool:
        body = _encode(value)
        with self._tx():
            docs = self.data.state.get(kind)
            if docs is None:
                docs = {}
                self._set(self.data.state, kind, docs)
            found = docs.get(key)
            if expected is None:
                if found is not None:
                    return False
                self._set(docs, key, (body, 1))
                return True
            if found is None or found[1] != expected:
                return False
            self._set(docs, key, (body, expected + 1))
            return True

    def state_list(self, kind: str, limit: int | None = None) -> list[tuple[str, dict, int]]:
        with self._lock:
            docs = sorted(self.data.state.get(kind, {}).items())
        if limit is not None:
            docs = docs[:max(0, limit)]
        return [(k, _decode(body), version) for k, (body, version) in docs]

    def state_delete(self, kind: str, key: str) -> None:
        with self._tx():
            docs = self.data.state.get(kind)
            if docs is not None:
                self._pop(docs, key)

    # -- the console's queries ----------------------------------------------------------------

    def list_events(self, filters: EventFilter, cursor: str = "", limit: int = 50) -> EventPage:
        after = parse_cursor(cursor)
        d = self.data
        with self._lock:
            found = []
            for eid, s in d.events.items():
                e, at = s.event, s.received_at
                if ((filters.source and e.source != filters.source) or (filters.kind and e.kind != filters.kind)
                        or (filters.severity and e.severity.value != filters.severity)
                        or (filters.since is not None and at < filters.since)
                        or (filters.until is not None and at >= filters.until)
                        or (after is not None and (at, eid) >= after)
                        or any(e.labels.get(k) != v for k, v in filters.labels)
                        or (filters.role and not any(d.notifications[i].role == filters.role
                                                     for i in d.by_event.get(eid, ())))):
                    continue
                found.append((at, eid, e))
        found.sort(key=lambda f: (f[0], f[1]), reverse=True)
        page = found[:max(1, limit)] if limit > 0 else []
        more = len(found) > len(page)
        return EventPage([(e, at) for at, _, e in page], page_cursor(page[-1][0], page[-1][1]) if more and page else "")

    def notifications_for(self, event_id: str) -> list[Notification]:
        with self._lock:
            found = [_copy(self.data.notifications[i]) for i in self.data.by_event.get(event_id, ())]
        return sorted(found, key=lambda n: n.id)

    def channel_activity(self) -> dict[str, ChannelActivity]:
        out: dict[str, ChannelActivity] = {}
        with self._lock:
            for nid, attempts in self.data.attempts.items():
                n = self.data.notifications.get(nid)
                if n is None:
                    continue
                for a in attempts:
                    if a.status not in ("delivered", "retry", "failed"):
                        continue
                    act = out.setdefault(n.channel, ChannelActivity(n.channel))
                    if a.status == "delivered":
                        act.last_success = max(act.last_success or a.at, a.at)
                    elif act.last_failure is None or a.at > act.last_failure:
                        act.last_failure, act.last_failure_detail = a.at, a.detail
        return out

    def flush_index(self, limit: int | None = None) -> int:
        """Nothing to build: the event list is a scan of the events."""
        return 0

    # -- the delivery queue -------------------------------------------------------------------

    def enqueue(self, ids: list[str], delay_seconds: float = 0) -> None:
        """Nothing to do: the notifications are in the outbox already, due at their next_attempt_at."""

