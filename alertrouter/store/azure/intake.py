"""The Azure store's event log: taking events in, reading them back, redeliveries, run starts.

Ingest order, per event (what makes it crash-safe without a transaction across partitions):

    0. the marker exists → a redelivery: new=False, nothing written. The event record is built
       first, so an event too big to store is refused before any write.
    1. the event record and the notification index rows (upsert; up to 3 rows as concurrent single
       requests, more as entity-group transactions of up to 100: one partition)
    2. every notification: create (put-if-absent; "already exists" = left by an earlier attempt
       that crashed, or written by an instance racing us: kept as is, never duplicated), the
       run-start index row (upsert; run.started and alert.fired only) and the event list's row —
       concurrently, all finished before 3
    3. the marker, LAST (create; "already exists" = a racing instance took the event in first:
       new=False)

A crash anywhere before 3 leaves the event "not taken in": the sender's retry (Event Grid, Action
Group) runs ingest again, which adds no notification and answers new=True with all of the event's
notifications (the stored ones), so they get dispatched. If the sender never retries, what was
written is still complete enough to deliver: the event record is there before any notification,
so the timer sweep sends them. A crash after 3 loses nothing: the notifications are in the outbox.

Large events: a property holds at most 64 KiB and an entity 1 MiB, so the event JSON is stored in
64,000-byte chunks, up to `MAX_BODY_BYTES`; a bigger event is kept without `raw` (property
`trimmed` says so; `raw` is the untouched inbound payload, the rest of the event is what templates
use), and if it is still too big, without details/links and with a shortened summary.
"""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime
from typing import Iterable

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import UpdateMode

from ...model import Event
from ..records import FIRST_TIME_KINDS, IngestOutcome, Notification
from .entities import (BATCH, BODY, CHUNK_BYTES, DUPLICATE, DUPLICATE_END, MARKER, PARALLEL_EVENTS, SEPARATE_UPSERTS,
                       _clip, _h, _list_keys, _list_row, _n_entity, _utc_key, event_body)
from .tables import Tables

log = logging.getLogger("alertrouter.store.azure")


class AzureEventLog(Tables):
    """The EventLog role on the events table."""

    def ingest(self, items: list[tuple[Event, list[Notification]]], now: float) -> list[IngestOutcome]:
        """The events of a batch are taken in concurrently (each in the order below): an Event Grid
        batch waits on storage round trips, not on this process (measured through a proxy adding
        2 ms each way: 4.3 s for 100 events one at a time, 2.2 s four at a time). An id repeated in
        the batch is taken in after its first copy, so the first is the one that is new."""
        if len(items) <= 1:
            return [self._ingest_one(event, notifications, now) for event, notifications in items]
        first: dict[str, int] = {}
        for i, (event, _) in enumerate(items):
            first.setdefault(event.id, i)
        with self._pool_lock:
            if self._ingest_pool is None:
                self._ingest_pool = ThreadPoolExecutor(max_workers=PARALLEL_EVENTS, thread_name_prefix="azingest")
        futures = {i: self._ingest_pool.submit(self._ingest_one, *items[i], now) for i in first.values()}
        wait(futures.values())
        out = {i: f.result() for i, f in futures.items()}
        for i, (event, notifications) in enumerate(items):
            if i not in out:  # a repeat: the marker is there by now
                out[i] = self._ingest_one(event, notifications, now)
        return [out[i] for i in range(len(items))]

    def _ingest_one(self, event: Event, notifications: list[Notification], now: float) -> IngestOutcome:
        epk = _h(event.id)
        if self._entity(self.events, epk, MARKER, select=["RowKey"]) is not None:
            self._duplicate(epk, now)
            return IngestOutcome(new=False)
        unique: dict[str, Notification] = {}
        for n in notifications:  # an id given twice is one notification (the first), as in SQLite
            unique.setdefault(n.id, n)
        notifications = list(unique.values())
        first_pk = "first-" + _h(f"{event.fingerprint}\x1f{event.kind}")
        first_rk = f"{_utc_key(event.time)}-{epk}"
        list_pk, list_rk = _list_keys(event.id, now)
        record = self._record_entity(event, now, first_pk, first_rk, list_pk, list_rk)  # refuses an oversized
        # event before any write
        self._list_meta(now)  # before the first indexed event: since when the index is complete
        # 1. the event and its notification index, one partition. Upserts, so a retry after a crash
        # rewrites them whole; nothing reads them before 3. A few go as separate concurrent requests
        # (an entity-group transaction costs the SDK four plain requests' CPU), more in transactions.
        rows = [("upsert", record, {"mode": UpdateMode.REPLACE})]
        rows += [("upsert", {"PartitionKey": epk, "RowKey": "n-" + _h(n.id), "notification_id": n.id}, {})
                 for n in notifications]
        if len(rows) <= SEPARATE_UPSERTS:
            self._parallel([lambda r=r: self.events.upsert_entity(r[1], **r[2]) for r in rows])
        else:
            for i in range(0, len(rows), BATCH):
                self.events.submit_transaction(rows[i:i + BATCH])
        # 2. the notifications (put-if-absent) and the run-start row: independent writes, concurrently
        for n in notifications:
            n.created_at = n.updated_at = now
            n.next_attempt_at = n.next_attempt_at or now
        first = {"PartitionKey": first_pk, "RowKey": first_rk, "event_id": _clip(event.id),
                 "time": event.time.isoformat()}
        writes = [lambda n=n: self._put_new(n) for n in notifications]
        if event.kind in FIRST_TIME_KINDS:  # the only kinds first_time is asked about
            writes.append(lambda: self.events.upsert_entity(first))
        writes.append(lambda: self.events.upsert_entity(_list_row(event, notifications, now, list_pk, list_rk)))
        outbox = self._parallel(writes)[:len(notifications)]
        # 3. the marker, last
        try:
            self.events.create_entity({"PartitionKey": epk, "RowKey": MARKER, "id": _clip(event.id),
                                       "received_at": float(now)})
        except ResourceExistsError:
            self._duplicate(epk, now)
            return IngestOutcome(new=False)  # another instance took this event in a moment ago
        return IngestOutcome(new=True, notifications=outbox)

    def _duplicate(self, epk: str, now: float) -> None:
        """A redelivery, as a row of its own in the event's partition (no read-modify-write to race on)."""
        self.events.upsert_entity({"PartitionKey": epk, "RowKey": f"{DUPLICATE}{now:017.6f}-{uuid.uuid4().hex[:8]}",
                                   "at": float(now)})

    def duplicates_of(self, event_id: str, limit: int = 20) -> tuple[int, list[float]]:
        rows = self.events.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                          parameters={"pk": _h(event_id), "lo": DUPLICATE, "hi": DUPLICATE_END},
                                          select=["at"])
        times = sorted((float(r["at"]) for r in rows), reverse=True)
        return len(times), times[:limit]

    def _put_new(self, n: Notification) -> Notification:
        """Create the notification; if it is there already (left by an interrupted earlier ingest
        of this event, or written by a racing instance), the stored one, untouched."""
        try:
            self.notifications.create_entity(_n_entity(n))
            return n
        except ResourceExistsError:
            existing = self.get(n.id)
            return existing if existing is not None else n

    def _record_entity(self, event: Event, now: float, first_pk: str, first_rk: str,
                       list_pk: str = "", list_rk: str = "") -> dict:
        body, trimmed = event_body(event)
        chunks = [body[i:i + CHUNK_BYTES] for i in range(0, len(body), CHUNK_BYTES)] or [b""]
        if trimmed:
            log.warning("event %s is %d bytes too large for Table Storage: stored without %s",
                        event.id[:200], len(event.model_dump_json().encode()), ", ".join(trimmed),
                        extra={"event_id": event.id})
        entity = {
            "PartitionKey": _h(event.id), "RowKey": BODY, "id": _clip(event.id), "received_at": float(now),
            "time": event.time.isoformat(), "time_utc": event.time.timestamp(), "source": event.source,
            "kind": _clip(event.kind, 1000),
            "severity": event.severity.value, "fingerprint": _clip(event.fingerprint),
            "first_pk": first_pk, "first_rk": first_rk, "list_pk": list_pk, "list_rk": list_rk,
            "body_parts": len(chunks), "body_bytes": len(body), "trimmed": ",".join(trimmed),
        }
        for i, chunk in enumerate(chunks):
            entity[f"body{i:02d}"] = chunk
        return entity

    def get_event(self, event_id: str) -> Event | None:
        e = self._entity(self.events, _h(event_id), BODY)
        return self._event_of(e) if e is not None else None

    def events_between(self, start: datetime, end: datetime, kinds: Iterable[str] | None = None) -> list[Event]:
        """Events whose time is in [start, end), of those kinds, by (time, id): for the digest. A
        filtered scan of the event records (keep the store purged to `retention_days`)."""
        rows = self.events.query_entities("RowKey eq @b and time_utc ge @s and time_utc lt @e",
                                          parameters={"b": BODY, "s": start.timestamp(), "e": end.timestamp()})
        wanted = set(kinds) if kinds is not None else None
        events = [self._event_of(e) for e in rows if wanted is None or e.get("kind") in wanted]
        return sorted(events, key=lambda ev: (ev.time, ev.id))

    def first_time(self, fingerprint: str, kind: str) -> datetime | None:
        """When the earliest event of `kind` with this fingerprint happened (a run's start)."""
        if kind not in FIRST_TIME_KINDS:
            raise ValueError(f"first_time is kept for {', '.join(sorted(FIRST_TIME_KINDS))} events only, not {kind!r}")
        pk = "first-" + _h(f"{fingerprint}\x1f{kind}")
        rows = self.events.query_entities("PartitionKey eq @pk", parameters={"pk": pk}, results_per_page=1,
                                          select=["time"])
        first = next(iter(rows), None)  # rows come in RowKey order: the earliest instant first
        return datetime.fromisoformat(first["time"]) if first is not None else None
