"""The Azure store's event log: taking events in, reading them back, redeliveries, run starts.

Ingest order, for the events of a batch together (what makes it crash-safe without a transaction
across partitions), each step's writes concurrent and all finished before the next step:

    1. each event's record, with the ids of its notifications in it (create). The record is built
       first, so an event too big to store is refused before any write. "Already exists" means the
       event was seen before: its marker is read (the only read on the way in) — there: a
       redelivery, new=False, nothing else written; not there: an earlier ingest of it stopped
       before 3 (or an instance is taking it in right now), so the record is written again whole
       (upsert) and the event goes on like a new one
    2. every notification (create, put-if-absent: "already exists" = left by an earlier attempt
       that crashed, or written by an instance racing us: kept as is, never duplicated), the
       run-start index row (upsert; run.started and alert.fired only) and the event list's rows
       (upsert; the rows of a batch that share a day's partition in entity-group transactions)
    3. the markers, LAST (create; "already exists" = a racing instance took the event in first:
       new=False)

A crash anywhere before 3 leaves the event "not taken in": the sender's retry (Event Grid, Action
Group) runs ingest again, which finds the record, adds no notification and answers new=True with
all of the event's notifications (the stored ones), so they get dispatched. If the sender never
retries, what was written is still complete enough to deliver: the record is there before any
notification, so the timer sweep sends them. A crash after 3 loses nothing: the notifications are
in the outbox. An event costs 3 requests (4 for a run start or a firing alert, with its run-start
row), plus one per notification; a batch's event-list rows go 100 to a request.

Records written before the ids were kept in them have one index row per notification in their
partition instead (RowKey "n-" h(nid)); readers take both. So does a record whose ids are more
than one property holds (`nids_rows`, over NIDS_MAX_CHARS).

Large events: a property holds at most 64 KiB and an entity 1 MiB, so the event JSON is stored in
64,000-byte chunks, up to `MAX_BODY_BYTES`; a bigger event is kept without `raw` (property
`trimmed` says so; `raw` is the untouched inbound payload, the rest of the event is what templates
use), and if it is still too big, without details/links and with a shortened summary.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime
from typing import Iterable

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import UpdateMode

from ...model import Event
from ..records import FIRST_TIME_KINDS, IngestOutcome, Notification
from .entities import (BATCH, BODY, CHUNK_BYTES, DUPLICATE, DUPLICATE_END, MARKER, NIDS_MAX_CHARS, SEPARATE_UPSERTS,
                       _clip, _h, _list_keys, _list_row, _n_entity, _utc_key, event_body)
from .tables import Tables

log = logging.getLogger("alertrouter.store.azure")


class AzureEventLog(Tables):
    """The EventLog role on the events table."""

    def ingest(self, items: list[tuple[Event, list[Notification]]], now: float) -> list[IngestOutcome]:
        """The events of a batch go through each step together (see the module docstring): an Event
        Grid batch waits on a few rounds of concurrent requests, not on one event after another. An
        id repeated in the batch is taken in after its first copy, so the first is the one that is new."""
        first: dict[str, int] = {}
        for i, (event, _) in enumerate(items):
            first.setdefault(event.id, i)
        taking = [_Intake(*items[i], now) for i in first.values()]
        for order, t in enumerate(taking):  # refuses an oversized event before any write
            t.record = self._record_entity(t.event, now, t.first_pk, t.first_rk, t.list_pk, t.list_rk, t.ids)
            t.record["batch_order"] = order  # a batch shares its intake time: this keeps the order taken in
        if taking:
            self._list_meta(now)  # before the first indexed event: since when the index is complete
        # 1. the records
        seen = self._parallel([lambda t=t: self._create_record(t) for t in taking])
        for t, was_seen in zip(taking, seen):
            t.outcome = IngestOutcome(new=False) if was_seen else None
        going = [t for t in taking if t.outcome is None]
        # 2. the notifications, run-start and event-list rows
        writes: list = [lambda n=n: self._put_new(n) for t in going for n in t.notifications]
        outbox = iter(range(len(writes)))
        for t in going:
            t.slots = [next(outbox) for _ in t.notifications]
            if t.event.kind in FIRST_TIME_KINDS:  # the only kinds first_time is asked about
                writes.append(lambda t=t: self.events.upsert_entity(
                    {"PartitionKey": t.first_pk, "RowKey": t.first_rk, "event_id": _clip(t.event.id),
                     "time": t.event.time.isoformat()}))
            if "nids" not in t.record:  # more ids than the record holds: index rows as before
                rows = [("upsert", {"PartitionKey": t.epk, "RowKey": "n-" + _h(nid), "notification_id": nid}, {})
                        for nid in t.ids]
                writes += [lambda part=rows[i:i + BATCH]: self.events.submit_transaction(part)
                           for i in range(0, len(rows), BATCH)]
        writes += self._list_writes(going, now)
        done = self._parallel(writes)
        for t in going:
            t.stored = [done[i] for i in t.slots]
        # 3. the markers, last
        taken = self._parallel([lambda t=t: self._mark(t.event, t.epk, now) for t in going])
        for t, new in zip(going, taken):
            t.outcome = IngestOutcome(new=True, notifications=t.stored) if new else IngestOutcome(new=False)
        out = {i: t.outcome for i, t in zip(first.values(), taking)}
        for i, (event, notifications) in enumerate(items):
            if i not in out:  # a repeat: its first copy is taken in by now
                [out[i]] = self.ingest([(event, notifications)], now)
        return [out[i] for i in range(len(items))]

    def _create_record(self, t: "_Intake") -> bool:
        """Step 1 for one event: True when it was taken in before (a redelivery, recorded as such)."""
        try:
            self.events.create_entity(t.record)
            return False
        except ResourceExistsError:
            pass
        if self._entity(self.events, t.epk, MARKER, select=["RowKey"]) is not None:
            self._duplicate(t.epk, t.now)
            return True
        self.events.upsert_entity(t.record, mode=UpdateMode.REPLACE)  # an ingest that stopped part-way
        return False

    def _mark(self, event: Event, epk: str, now: float) -> bool:
        try:
            self.events.create_entity({"PartitionKey": epk, "RowKey": MARKER, "id": _clip(event.id),
                                       "received_at": float(now)})
            return True
        except ResourceExistsError:
            self._duplicate(epk, now)
            return False  # another instance took this event in a moment ago

    def _list_writes(self, going: list["_Intake"], now: float) -> list:
        """The event list's rows: a few as single upserts (an entity-group transaction costs the SDK
        four plain requests' CPU), more of one day's partition in transactions of up to 100."""
        rows = [_list_row(t.event, t.notifications, now, t.list_pk, t.list_rk) for t in going]
        if len(rows) <= SEPARATE_UPSERTS:
            return [lambda r=r: self.events.upsert_entity(r) for r in rows]
        by_pk: dict[str, list] = {}
        for r in rows:
            by_pk.setdefault(r["PartitionKey"], []).append(("upsert", r))
        return [lambda part=ops[i:i + BATCH]: self.events.submit_transaction(part)
                for ops in by_pk.values() for i in range(0, len(ops), BATCH)]

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
        entity = _n_entity(n)
        try:
            done = self.notifications.create_entity(entity)
            self._remember_created(entity, done.get("etag") if isinstance(done, dict) else None)
            return n
        except ResourceExistsError:
            existing = self.get(n.id)
            return existing if existing is not None else n

    def _record_entity(self, event: Event, now: float, first_pk: str, first_rk: str,
                       list_pk: str = "", list_rk: str = "", ids: list[str] | None = None) -> dict:
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
        nids = json.dumps(ids or [], separators=(",", ":"))  # ASCII: one UTF-16 unit a character
        if len(nids) <= NIDS_MAX_CHARS:
            entity["nids"] = nids
        else:
            entity["nids_rows"] = True
        for i, chunk in enumerate(chunks):
            entity[f"body{i:02d}"] = chunk
        return entity

    def get_event(self, event_id: str) -> Event | None:
        e = self._entity(self.events, _h(event_id), BODY)
        return self._event_of(e) if e is not None else None

    def events_between(self, start: datetime, end: datetime, kinds: Iterable[str] | None = None) -> list[Event]:
        """Events whose time is in [start, end), of those kinds, by time and those of the same time in
        the order they were taken in (intake time, then place in the batch; records written before
        the place was kept: by id), without their raw payloads: for the digest, the noise report and
        replay. A filtered scan of the event records
        (keep the store purged to `retention_days`)."""
        rows = self.events.query_entities("RowKey eq @b and time_utc ge @s and time_utc lt @e",
                                          parameters={"b": BODY, "s": start.timestamp(), "e": end.timestamp()})
        wanted = set(kinds) if kinds is not None else None
        found = [(self._event_of(e, raw=False), e.get("received_at", 0.0), e.get("batch_order", 0)) for e in rows
                 if wanted is None or e.get("kind") in wanted]
        return [f[0] for f in sorted(found, key=lambda f: (f[0].time, f[1], f[2], f[0].id))]

    def first_time(self, fingerprint: str, kind: str) -> datetime | None:
        """When the earliest event of `kind` with this fingerprint happened (a run's start)."""
        if kind not in FIRST_TIME_KINDS:
            raise ValueError(f"first_time is kept for {', '.join(sorted(FIRST_TIME_KINDS))} events only, not {kind!r}")
        pk = "first-" + _h(f"{fingerprint}\x1f{kind}")
        rows = self.events.query_entities("PartitionKey eq @pk", parameters={"pk": pk}, results_per_page=1,
                                          select=["time"])
        first = next(iter(rows), None)  # rows come in RowKey order: the earliest instant first
        return datetime.fromisoformat(first["time"]) if first is not None else None


class _Intake:
    """One event on its way in: its keys, its notifications (an id given twice is one notification,
    the first, as in SQLite) and, as the steps go, its record and outcome."""

    def __init__(self, event: Event, notifications: list[Notification], now: float):
        self.event, self.now = event, now
        unique: dict[str, Notification] = {}
        for n in notifications:
            unique.setdefault(n.id, n)
        self.notifications = list(unique.values())
        for n in self.notifications:
            n.created_at = n.updated_at = now
            n.next_attempt_at = n.next_attempt_at or now
        self.ids = [n.id for n in self.notifications]
        self.epk = _h(event.id)
        self.first_pk = "first-" + _h(f"{event.fingerprint}\x1f{event.kind}")
        self.first_rk = f"{_utc_key(event.time)}-{self.epk}"
        self.list_pk, self.list_rk = _list_keys(event.id, now)
        self.record: dict = {}
        self.stored: list[Notification] = []
        self.slots: list[int] = []
        self.outcome: IngestOutcome | None = None
