"""The Azure store's event log: taking events in, reading them back, redeliveries, run starts.

Ingest order, for the events of a batch together (what makes it crash-safe without a transaction
across partitions), each step's writes concurrent and all finished before the next step:

    1. each event's record, with the ids of its notifications in it (create). The record is built
       first, so an event too big to store is refused before any write. "Already exists" means the
       event was seen before: the record's list keys are read, then its event-list row (the only
       reads on the way in) — there: a redelivery, new=False, nothing else written; not there: an
       earlier ingest of it stopped before 3 (or an instance is taking it in right now), so the
       record is written again whole (upsert) on the stored record's instant and list keys, and
       the event goes on like a new one
    2. every notification (create, put-if-absent: "already exists" = left by an earlier attempt
       that crashed, or written by an instance racing us: kept as is, never duplicated) and the
       run-start index row (upsert; run.started only)
    3. the event list's rows, LAST: creating an event's row takes it in (the rows of a batch that
       share a day's partition in entity-group transactions). "Already exists" = a racing
       instance took the event in first: new=False. Both racers write the row at the keys the
       record holds, so an event has one row however many instances take it in

A crash anywhere before 3 leaves the event "not taken in": the sender's retry (Event Grid, Action
Group) runs ingest again, which finds the record, adds no notification and answers new=True with
all of the event's notifications (the stored ones), so they get dispatched. If the sender never
retries, what was written is still complete enough to deliver: the record is there before any
notification, so the timer sweep sends them. A crash after 3 loses nothing: the notifications are
in the outbox. An event costs 2 requests, its record and its list row (3 for a run start: its
run-start row), plus one per notification; a batch's event-list rows go 100 to a request.

Records written before the list row was the last write (no `v` property) were taken in when their
marker row (RK "event") was: a retry of one of those reads the marker, as the store did then.

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
from azure.data.tables import TableTransactionError, UpdateMode

from ...model import Event
from ..records import FIRST_TIME_KINDS, IngestOutcome, Notification
from .entities import (BATCH, BODY, CHUNK_BYTES, DUPLICATE, DUPLICATE_END, MARKER, NIDS_MAX_CHARS, SEPARATE_WRITES,
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
        # 2. the notifications and run-start rows
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
        done = self._parallel(writes)
        for t in going:
            t.stored = [done[i] for i in t.slots]
        # 3. the event list's rows, last: each one made takes its event in
        for t, new in zip(going, self._take_in(going, now)):
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
        stored = self._entity(self.events, t.epk, BODY, select=["received_at", "list_pk", "list_rk", "v"])
        if stored is not None and stored.get("v") and stored.get("list_pk"):
            taken = self._entity(self.events, stored["list_pk"], stored["list_rk"], select=["RowKey"]) is not None
            if not taken:  # finish it where it was begun: a racing instance writes the same list row
                t.at(float(stored["received_at"]), stored["list_pk"], stored["list_rk"])
        else:  # gone meanwhile (purged), or written by the store before the list row came last
            taken = stored is not None and self._entity(self.events, t.epk, MARKER, select=["RowKey"]) is not None
        if taken:
            self._duplicate(t.epk, t.now)
            return True
        self.events.upsert_entity(t.record, mode=UpdateMode.REPLACE)  # an ingest that stopped part-way
        return False

    def _take_in(self, going: list["_Intake"], now: float) -> list[bool]:
        """Step 3: create each event's list row; True where this call made it (took the event in).
        A few rows as single creates (an entity-group transaction costs the SDK four plain requests'
        CPU), more of one day's partition in transactions of up to 100; a transaction refused
        because a row is there already (a racing instance took that event in) goes row by row."""
        for t in going:
            t.row = _list_row(t.event, t.notifications, t.received_at, t.list_pk, t.list_rk)
        if len(going) <= SEPARATE_WRITES:
            return self._parallel([lambda t=t: self._create_row(t, now) for t in going])
        by_pk: dict[str, list] = {}
        for t in going:
            by_pk.setdefault(t.list_pk, []).append(t)
        parts = [part[i:i + BATCH] for part in by_pk.values() for i in range(0, len(part), BATCH)]
        done = self._parallel([lambda p=p: self._create_rows(p, now) for p in parts])
        made = {id(t): new for part, news in zip(parts, done) for t, new in zip(part, news)}
        return [made[id(t)] for t in going]

    def _create_rows(self, part: list["_Intake"], now: float) -> list[bool]:
        try:
            self.events.submit_transaction([("create", t.row) for t in part])
            return [True] * len(part)
        except TableTransactionError as e:
            if e.status_code != 409:
                raise
        return [self._create_row(t, now) for t in part]

    def _create_row(self, t: "_Intake", now: float) -> bool:
        try:
            self.events.create_entity(t.row)
            return True
        except ResourceExistsError:
            self._duplicate(t.epk, now)
            return False  # another instance took this event in a moment ago

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
            "v": 2,  # taken in when its list row is there (before: its marker row)
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
        self.received_at = now
        self.list_pk, self.list_rk = _list_keys(event.id, now)
        self.record: dict = {}
        self.row: dict = {}  # its event-list row (step 3)
        self.stored: list[Notification] = []
        self.slots: list[int] = []
        self.outcome: IngestOutcome | None = None

    def at(self, received_at: float, list_pk: str, list_rk: str) -> None:
        """Finish an ingest begun earlier (or racing us) on its instant and its event-list row."""
        self.received_at, self.list_pk, self.list_rk = received_at, list_pk, list_rk
        self.record.update(received_at=received_at, list_pk=list_pk, list_rk=list_rk)
