"""Azure store: Table Storage for events, the outbox and history; a Storage Queue to drive delivery.

Any number of Function instances share one storage account. Nothing here holds a lock: every
read-modify-write is an optimistic update (If-Match on the entity's ETag), so of two instances that
race for the same entity exactly one wins and the other re-reads or moves on.

Tables (`<prefix>Events`, `<prefix>Notifications`, `<prefix>Attempts`). Keys cannot hold / \\ # ?
or control characters, so every key is a hash (`_h`, 128 bits of SHA-256) and the real id is kept
as a property:

    Events         PK h(event id)            RK "body"          the event: received_at, kind, fingerprint…
                                                                and its JSON split over binary
                                                                properties body00, body01…
                   PK h(event id)            RK "n-" h(nid)     one row per notification of the event
                                                                (notifications_for, purge)
                   PK h(event id)            RK "event"         the marker: the event was taken in
                   PK "first-" h(fp, kind)   RK utc time "-" h(event id)   run-start index: the first
                                                                row of the partition is the earliest
                                                                (FIRST_TIME_KINDS only: run.started, alert.fired)
                   PK "ls-" inverted UTC day RK inverted instant "-" h(event id)   the event list's
                                                                index: newest first, with the event's
                                                                source, kind, severity, roles, labels
    Notifications  PK h(notification id)     RK "n"             every Notification field
    Attempts       PK h(notification id)     RK at "-" number   one row per attempt (history)

Times are epoch seconds stored as Edm.Double, as in SQLite (always written as floats: the service
never compares a Double with an Int32).

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

Claiming scans for due notifications (status 'pending', next_attempt_at and lease_until <= now;
a filtered table scan, so keep the outbox purged) and leases each with a conditional merge; `finish`
and `release` check lease_owner and write with If-Match, so a caller whose lease ran out and was
taken over records nothing.

Large events: a property holds at most 64 KiB and an entity 1 MiB, so the event JSON is stored in
64,000-byte chunks, up to `MAX_BODY_BYTES`; a bigger event is kept without `raw` (property
`trimmed` says so; `raw` is the untouched inbound payload, the rest of the event is what templates
use), and if it is still too big, without details/links and with a shortened summary.

The queue carries notification ids, base64-encoded as the Functions queue trigger expects by
default (host.json `messageEncoding: base64`).

Credentials: a connection string (Azurite, account keys) or the account name with
DefaultAzureCredential (managed identity). Neither is ever logged or put in an error message.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import random
import re
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from ..model import Event
from .records import (FIRST_TIME_KINDS, Attempt, ChannelActivity, EventFilter, EventPage, IngestOutcome, Notification,
                      Status, page_cursor, parse_cursor)

log = logging.getLogger("alertrouter.store.azure")

MARKER = "event"  # "taken in": written last
BODY = "body"  # the event itself: written first
DUPLICATE, DUPLICATE_END = "dup-", "dup."  # one row per redelivery after the event was taken in
LIST, LIST_END = "ls-", "ls."  # the event list's index: a partition per UTC day of intake, the newest first
LIST_META = "lsmeta"  # a row of the state table: since when every event has its index row
LIST_LABELS_MAX = 30_000  # characters of label JSON kept in an index row; more: read from the event
NOTIFICATION_RK = "n"
CHUNK_BYTES = 64_000  # one binary property (limit 64 KiB)
MAX_BODY_BYTES = 14 * CHUNK_BYTES  # the entity limit is 1 MiB: leave room for the other properties
MAX_TEXT = 16_000  # characters in a free-text property (64 KiB in UTF-16 even for astral characters)
MAX_VISIBILITY = 7 * 24 * 3600 - 60  # a queue message is hidden at most 7 days (and less than its TTL)
BATCH = 100  # entity-group transaction limit
SEPARATE_UPSERTS = 3  # up to this many rows of one partition are cheaper as single requests than as a transaction
_OPTIMISTIC_TRIES = 8
PARALLEL_WRITES = 8  # concurrent writes of one event's notifications
PARALLEL_EVENTS = 4  # events of one batch taken in at once (with their writes, within the SDK's 10 connections)

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
DEVELOPMENT_STORAGE = (  # what "UseDevelopmentStorage=true" means: Azurite on its default ports
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + AZURITE_KEY + ";"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)

_DUE = "status eq 'pending' and next_attempt_at le @now and lease_until le @now"
_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,49}$")
_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")
_QUEUE_RE = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


def _h(value: str) -> str:
    """A key-safe stand-in for an id (hex; 128 bits of SHA-256)."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _conflict(exc: HttpResponseError) -> bool:
    return isinstance(exc, ResourceModifiedError) or getattr(exc, "status_code", None) == 412


def _utc_key(t: datetime) -> str:
    """A sortable key for an instant (naive times are taken as UTC)."""
    t = t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _attempt_rk(at: float, number: int) -> str:
    return f"{at:020.6f}-{number:010d}"


def _n_entity(n: Notification) -> dict:
    return {
        "PartitionKey": _h(n.id), "RowKey": NOTIFICATION_RK,
        "id": n.id, "event_id": n.event_id, "route": n.route, "role": n.role, "channel": n.channel,
        "fallback_from": n.fallback_from, "status": n.status, "attempts": int(n.attempts),
        "created_at": float(n.created_at), "updated_at": float(n.updated_at),
        "next_attempt_at": float(n.next_attempt_at), "lease_owner": n.lease_owner,
        "lease_until": float(n.lease_until), "last_detail": _clip(n.last_detail),
    }


def _to_n(e) -> Notification:
    return Notification(
        id=e["id"], event_id=e["event_id"], route=e.get("route", ""), role=e.get("role", ""),
        channel=e.get("channel", ""), fallback_from=e.get("fallback_from", ""), status=e.get("status", "pending"),
        attempts=int(e.get("attempts", 0)), created_at=float(e.get("created_at", 0.0)),
        updated_at=float(e.get("updated_at", 0.0)), next_attempt_at=float(e.get("next_attempt_at", 0.0)),
        lease_owner=e.get("lease_owner", ""), lease_until=float(e.get("lease_until", 0.0)),
        last_detail=e.get("last_detail", ""),
    )


def _to_attempt(e) -> Attempt:
    retry_after = e.get("retry_after")
    return Attempt(notification_id=e["notification_id"], number=int(e["number"]), at=float(e["at"]),
                   status=e["status"], detail=e.get("detail", ""),
                   retry_after=float(retry_after) if retry_after is not None else None)


def event_body(event: Event) -> tuple[bytes, list[str]]:
    """The event's JSON as stored, and what had to be left out to fit an entity."""
    data = event.model_dump_json().encode("utf-8")
    trimmed: list[str] = []
    if len(data) > MAX_BODY_BYTES and event.raw is not None:
        event = event.model_copy(update={"raw": None})
        trimmed.append("raw")
        data = event.model_dump_json().encode("utf-8")
    if len(data) > MAX_BODY_BYTES:
        event = event.model_copy(update={"details": {}, "links": {}, "summary": _clip(event.summary, 4000)})
        trimmed += ["details", "links", "summary"]
        data = event.model_dump_json().encode("utf-8")
    if len(data) > MAX_BODY_BYTES:
        raise ValueError(f"event {event.id[:200]!r} is too large to store ({len(data)} bytes even without raw "
                         "payload and details)")
    return data, trimmed


class AzureStore:
    """The Store interface on Azure Table Storage, plus `enqueue` onto the delivery queue."""

    def __init__(self, tables: TableServiceClient, queue: QueueClient | None, table_prefix: str = "alertrouter",
                 *, create: bool = True):
        if not _PREFIX_RE.match(table_prefix):
            raise ValueError(f"table prefix {table_prefix!r}: a letter, then up to 49 letters or digits")
        self.service = tables
        self.queue = queue
        self.table_names = {k: f"{table_prefix}{k.capitalize()}"
                            for k in ("events", "notifications", "attempts", "state")}
        if create:
            for name in self.table_names.values():
                tables.create_table_if_not_exists(name)
            if queue is not None:
                try:
                    queue.create_queue()
                except ResourceExistsError:
                    pass
        self._pool: ThreadPoolExecutor | None = None
        self._ingest_pool: ThreadPoolExecutor | None = None  # events of a batch (not the writes' pool: no nesting)
        self._pool_lock = threading.Lock()
        # (notification id, owner) -> (etag, attempts) of the entity as our claim left it, so finish
        # can write its result conditionally without reading the entity back first
        self._leases: OrderedDict[tuple[str, str], tuple[str, int]] = OrderedDict()
        self._leases_lock = threading.Lock()
        self._list_since: tuple[float, bool] | None = None  # the event list index's mark, once read
        self.events = tables.get_table_client(self.table_names["events"])
        self.notifications = tables.get_table_client(self.table_names["notifications"])
        self.attempts = tables.get_table_client(self.table_names["attempts"])
        self.state = tables.get_table_client(self.table_names["state"])

    @classmethod
    def from_settings(cls, azure, *, create: bool = True, credential=None, **client_options) -> "AzureStore":
        """Clients from `AzureStorage` settings: the connection string if set (Azurite, account key),
        else the account name with DefaultAzureCredential (managed identity)."""
        if not _QUEUE_RE.match(azure.queue_name):
            raise ValueError(f"queue name {azure.queue_name!r}: 3-63 lower-case letters, digits and single hyphens")
        codec = {"message_encode_policy": TextBase64EncodePolicy(), "message_decode_policy": TextBase64DecodePolicy()}

        def options() -> dict:  # a transport of its own for each client
            return {**_transport(), **client_options}

        if azure.connection_string:
            conn = azure.connection_string.strip()
            if conn.lower().rstrip(";") == "usedevelopmentstorage=true":
                conn = DEVELOPMENT_STORAGE
            try:
                tables = TableServiceClient.from_connection_string(conn, **options())
                queue = QueueClient.from_connection_string(conn, azure.queue_name, **codec, **options())
            except (ValueError, TypeError, KeyError):
                # never echo the string: it holds the account key
                raise ValueError("ALERTROUTER_AZURE__CONNECTION_STRING is not a valid storage connection string") \
                    from None
        elif azure.account_name:
            if not _ACCOUNT_RE.match(azure.account_name):
                raise ValueError(f"storage account name {azure.account_name!r}: 3-24 lower-case letters or digits")
            if credential is None:
                from azure.identity import DefaultAzureCredential

                credential = DefaultAzureCredential()
            tables = TableServiceClient(endpoint=f"https://{azure.account_name}.table.core.windows.net",
                                        credential=credential, **options())
            queue = QueueClient(account_url=f"https://{azure.account_name}.queue.core.windows.net",
                                queue_name=azure.queue_name, credential=credential, **codec, **options())
        else:
            raise ValueError("the Azure store needs ALERTROUTER_AZURE__CONNECTION_STRING or "
                             "ALERTROUTER_AZURE__ACCOUNT_NAME (managed identity)")
        return cls(tables, queue, azure.table_prefix, create=create)

    # --- the delivery queue ---

    def enqueue(self, ids: list[str], delay_seconds: float = 0) -> None:
        """One message per notification id (base64 text, as the queue trigger expects), visible after
        `delay_seconds` (rounded up; at most about 7 days — the timer sweep catches anything later)."""
        if self.queue is None:
            raise RuntimeError("this AzureStore has no queue client")
        visibility = min(MAX_VISIBILITY, math.ceil(delay_seconds)) if delay_seconds > 0 else None
        for nid in ids:
            self.queue.send_message(nid, visibility_timeout=visibility)

    # --- intake ---

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

    def _parallel(self, calls: list) -> list:
        """Run independent storage calls concurrently; results in order; the first error raised
        once all have finished (so nothing runs on after the caller has moved on)."""
        if len(calls) <= 1:
            return [call() for call in calls]
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(max_workers=PARALLEL_WRITES, thread_name_prefix="azstore")
        futures = [self._pool.submit(call) for call in calls]
        wait(futures)
        return [f.result() for f in futures]

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

    @staticmethod
    def _event_of(e) -> Event:
        body = b"".join(bytes(e[f"body{i:02d}"]) for i in range(int(e["body_parts"])))
        return Event.model_validate_json(body)

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

    # --- outbox ---

    def claim(self, now: float, limit: int, lease_seconds: float, owner: str,
              ids: Iterable[str] | None = None) -> list[Notification]:
        if limit <= 0:
            return []
        if ids is not None:
            found = (self._entity(self.notifications, _h(i), NOTIFICATION_RK) for i in dict.fromkeys(ids))
            candidates = [e for e in found if e is not None and e.get("status") == "pending"
                          and float(e["next_attempt_at"]) <= now and float(e["lease_until"]) <= now]
        else:
            scan = self.notifications.query_entities(_DUE, parameters={"now": float(now)})
            candidates = list(itertools.islice(scan, max(4 * limit, 200)))
            random.shuffle(candidates)  # racing claimers start at different ones among equally due
        candidates.sort(key=lambda e: float(e["next_attempt_at"]))
        until = float(now + lease_seconds)
        claimed: list[Notification] = []
        for e in candidates:
            if len(claimed) >= limit:
                break
            try:
                done = self.notifications.update_entity(
                    {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"], "lease_owner": owner,
                     "lease_until": until},
                    mode=UpdateMode.MERGE, etag=e.metadata["etag"], match_condition=MatchConditions.IfNotModified)
            except (ResourceNotFoundError, ResourceModifiedError):
                continue  # another dispatcher got it first (or it was purged)
            except HttpResponseError as exc:
                if _conflict(exc):
                    continue
                raise
            n = _to_n(e)
            n.lease_owner, n.lease_until = owner, until
            if isinstance(done, dict) and done.get("etag"):
                self._remember_lease(n.id, owner, done["etag"], n.attempts)
            claimed.append(n)
        return sorted(claimed, key=lambda n: n.next_attempt_at)

    LEASES_KEPT = 10_000  # claimed and not yet finished, per process (a pass claims at most a batch)

    def _remember_lease(self, nid: str, owner: str, etag: str, attempts: int) -> None:
        with self._leases_lock:
            self._leases[(nid, owner)] = (etag, attempts)
            while len(self._leases) > self.LEASES_KEPT:
                self._leases.popitem(last=False)

    def _take_lease(self, nid: str, owner: str) -> tuple[str, int] | None:
        with self._leases_lock:
            return self._leases.pop((nid, owner), None)

    def _result_entity(self, n: Notification, attempts: int, attempt: Attempt, status: Status,
                       next_attempt_at: float, now: float) -> dict:
        return {"PartitionKey": _h(n.id), "RowKey": NOTIFICATION_RK, "status": status, "attempts": attempts + 1,
                "updated_at": float(now), "next_attempt_at": float(next_attempt_at), "lease_owner": "",
                "lease_until": 0.0, "last_detail": _clip(attempt.detail)}

    def finish(self, n: Notification, owner: str, attempt: Attempt, status: Status, next_attempt_at: float,
               now: float) -> bool:
        """The attempt's result, only while `owner` holds the lease. The notification is updated
        first (conditionally), then its history row is written."""
        if not owner:
            return False
        lease = self._take_lease(n.id, owner)
        if lease is not None:  # unchanged since our claim (same etag): still ours, no need to read it back
            etag, attempts = lease
            try:
                self.notifications.update_entity(self._result_entity(n, attempts, attempt, status, next_attempt_at,
                                                                     now),
                                                 mode=UpdateMode.MERGE, etag=etag,
                                                 match_condition=MatchConditions.IfNotModified)
                self._record(attempt)
                return True
            except ResourceNotFoundError:
                return False
            except HttpResponseError as exc:
                if not _conflict(exc):
                    raise  # changed since (the lease ran out and was taken, or released): read it below
        for _ in range(_OPTIMISTIC_TRIES):
            e = self._entity(self.notifications, _h(n.id), NOTIFICATION_RK)
            if e is None or e.get("lease_owner") != owner:
                return False
            try:
                self.notifications.update_entity(
                    self._result_entity(n, int(e.get("attempts", 0)), attempt, status, next_attempt_at, now),
                    mode=UpdateMode.MERGE, etag=e.metadata["etag"], match_condition=MatchConditions.IfNotModified)
                break
            except ResourceNotFoundError:
                return False
            except HttpResponseError as exc:
                if not _conflict(exc):
                    raise
        else:
            return False
        self._record(attempt)
        return True

    def defer(self, notification_id: str, owner: str, until: float, detail: str, now: float) -> bool:
        """Hand a claimed notification back, due at `until`, without spending an attempt."""
        if not owner:
            return False
        self._take_lease(notification_id, owner)
        for _ in range(_OPTIMISTIC_TRIES):
            e = self._entity(self.notifications, _h(notification_id), NOTIFICATION_RK)
            if e is None or e.get("lease_owner") != owner:
                return False
            try:
                self.notifications.update_entity(
                    {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"], "lease_owner": "", "lease_until": 0.0,
                     "next_attempt_at": float(until), "updated_at": float(now), "last_detail": _clip(detail)},
                    mode=UpdateMode.MERGE, etag=e.metadata["etag"], match_condition=MatchConditions.IfNotModified)
                return True
            except ResourceNotFoundError:
                return False
            except HttpResponseError as exc:
                if not _conflict(exc):
                    raise
        return False

    def release(self, ids: Iterable[str], owner: str) -> None:
        if not owner:
            return
        for nid in dict.fromkeys(ids):
            self._take_lease(nid, owner)
            for _ in range(_OPTIMISTIC_TRIES):
                e = self._entity(self.notifications, _h(nid), NOTIFICATION_RK)
                if e is None or e.get("lease_owner") != owner:
                    break
                try:
                    self.notifications.update_entity(
                        {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"], "lease_owner": "",
                         "lease_until": 0.0},
                        mode=UpdateMode.MERGE, etag=e.metadata["etag"], match_condition=MatchConditions.IfNotModified)
                    break
                except ResourceNotFoundError:
                    break
                except HttpResponseError as exc:
                    if not _conflict(exc):
                        raise

    def get(self, notification_id: str) -> Notification | None:
        e = self._entity(self.notifications, _h(notification_id), NOTIFICATION_RK)
        return _to_n(e) if e is not None else None

    def list(self, status: Status | None = None, limit: int = 100) -> list[Notification]:
        """Newest first. A filtered scan of the outbox table (an operator's command, not a hot path)."""
        if status:
            rows = self.notifications.query_entities("status eq @s", parameters={"s": status})
        else:
            rows = self.notifications.list_entities()
        found = sorted((_to_n(e) for e in rows), key=lambda n: (-n.created_at, n.id))
        return found[:max(0, limit)]

    def notifications_for(self, event_id: str) -> list[Notification]:
        found = []
        for row in self._index_rows(_h(event_id)):
            n = self.get(row["notification_id"])
            if n is not None:
                found.append(n)
        return sorted(found, key=lambda n: n.id)

    def history(self, notification_id: str) -> list[Attempt]:
        rows = self.attempts.query_entities("PartitionKey eq @pk", parameters={"pk": _h(notification_id)})
        return sorted((_to_attempt(e) for e in rows), key=lambda a: (a.at, a.number))

    def redrive(self, ids: Iterable[str] | None, now: float) -> list[str]:
        """Dead (or given, not pending) notifications become pending again, due now, with a fresh
        attempt budget. The timer sweep (or an `enqueue`) gets them delivered."""
        if ids is None:
            targets = [e["id"] for e in self.notifications.query_entities("status eq 'dead'", select=["id"])]
        else:
            targets = list(dict.fromkeys(ids))
        done = []
        for nid in targets:
            for _ in range(_OPTIMISTIC_TRIES):
                e = self._entity(self.notifications, _h(nid), NOTIFICATION_RK)
                if e is None or e.get("status") == "pending" or (ids is None and e.get("status") != "dead"):
                    break
                try:
                    self.notifications.update_entity(
                        {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"], "status": "pending",
                         "attempts": 0, "next_attempt_at": float(now), "updated_at": float(now),
                         "lease_owner": "", "lease_until": 0.0},
                        mode=UpdateMode.MERGE, etag=e.metadata["etag"], match_condition=MatchConditions.IfNotModified)
                except ResourceNotFoundError:
                    break
                except HttpResponseError as exc:
                    if _conflict(exc):
                        continue
                    raise
                self._record(Attempt(nid, 0, now, "redriven", "re-driven by an operator"))
                done.append(nid)
                break
        return done

    def purge(self, older_than: float) -> int:
        """Delete sent, dead and held notifications (and their history) last updated before `older_than`,
        and events received before then with no notification left."""
        old = list(self.notifications.query_entities(
            "( status eq 'sent' or status eq 'dead' or status eq 'held' ) and updated_at lt @t", parameters={"t": float(older_than)},
            select=["PartitionKey", "RowKey", "id", "event_id"]))
        count = 0
        for e in old:
            try:  # only as read: a notification re-driven meanwhile stays
                self.notifications.delete_entity(e["PartitionKey"], e["RowKey"], etag=e.metadata["etag"],
                                                 match_condition=MatchConditions.IfNotModified)
            except ResourceNotFoundError:
                continue
            except HttpResponseError as exc:
                if _conflict(exc):
                    continue
                raise
            count += 1
            history = self.attempts.query_entities("PartitionKey eq @pk", parameters={"pk": e["PartitionKey"]},
                                                   select=["PartitionKey", "RowKey"])
            self._delete_all(self.attempts, history)
            self._delete(self.events, _h(e["event_id"]), "n-" + e["PartitionKey"])
        events = list(self.events.query_entities(  # event records, also of ingests that never completed
            "RowKey eq @b and received_at lt @t", parameters={"b": BODY, "t": float(older_than)},
            select=["PartitionKey", "RowKey", "first_pk", "first_rk", "list_pk", "list_rk"]))
        for record in events:
            left = False
            for row in self._index_rows(record["PartitionKey"]):
                if self._entity(self.notifications, _h(row["notification_id"]), NOTIFICATION_RK,
                                select=["RowKey"]) is not None:
                    left = True
                else:  # its notification was purged (this round or an interrupted earlier one)
                    self._delete(self.events, row["PartitionKey"], row["RowKey"])
            if not left:  # the run-start and event-list rows, the marker, then the record itself
                self._delete(self.events, record.get("first_pk", ""), record.get("first_rk", ""))
                self._delete(self.events, record.get("list_pk", ""), record.get("list_rk", ""))
                self._delete(self.events, record["PartitionKey"], MARKER)
                for dup in self.events.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                                      parameters={"pk": record["PartitionKey"], "lo": DUPLICATE,
                                                                  "hi": DUPLICATE_END}, select=["RowKey"]):
                    self._delete(self.events, record["PartitionKey"], dup["RowKey"])
                self._delete(self.events, record["PartitionKey"], BODY)
        return count

    def next_due(self) -> float | None:
        rows = self.notifications.query_entities("status eq 'pending'", select=["next_attempt_at", "lease_until"])
        due = [max(float(e["next_attempt_at"]), float(e["lease_until"])) for e in rows]
        return min(due) if due else None

    def oldest_pending(self) -> float | None:
        """When the oldest pending notification was created (epoch seconds), or None. A filtered
        scan, like `counts`: fine for a metrics scrape now and then, not for a hot loop."""
        rows = self.notifications.query_entities("status eq 'pending'", select=["created_at"])
        created = [float(e["created_at"]) for e in rows]
        return min(created) if created else None

    # --- small documents with optimistic concurrency (silences, alert state, groups, escalations) ---
    # PartitionKey = kind, RowKey = hash of the key; the JSON value is split over binary properties
    # like event bodies; the entity's etag is the concurrency check, `version` what callers compare.

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None:
        e = self._entity(self.state, kind, _h(key))
        return (self._state_value(e), int(e["version"])) if e is not None else None

    def state_put(self, kind: str, key: str, value: dict, expected: int | None, now: float) -> bool:
        body = json.dumps(value, sort_keys=True).encode()
        if len(body) > MAX_BODY_BYTES:
            raise ValueError(f"state document {kind}/{key} is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
        entity = {"PartitionKey": kind, "RowKey": _h(key), "key": _clip(key), "updated_at": float(now),
                  "chunks": 0}
        for i in range(0, len(body), CHUNK_BYTES):
            entity[f"v{i // CHUNK_BYTES}"] = body[i:i + CHUNK_BYTES]
            entity["chunks"] += 1
        if expected is None:
            entity["version"] = 1
            try:
                self.state.create_entity(entity)
                return True
            except ResourceExistsError:
                return False
        current = self._entity(self.state, kind, _h(key))
        if current is None or int(current["version"]) != expected:
            return False
        entity["version"] = expected + 1
        try:
            self.state.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                     match_condition=MatchConditions.IfNotModified)
            return True
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            if _conflict(exc):
                return False
            raise

    def state_list(self, kind: str, limit: int | None = None) -> list[tuple[str, dict, int]]:
        rows = self.state.query_entities("PartitionKey eq @k", parameters={"k": kind}, results_per_page=limit)
        if limit is not None:  # one request: the first `limit` rows (in RowKey order, a hash of the key)
            rows = itertools.islice(rows, limit)
        return sorted(((e["key"], self._state_value(e), int(e["version"])) for e in rows), key=lambda r: r[0])

    def state_delete(self, kind: str, key: str) -> None:
        self._delete(self.state, kind, _h(key))

    @staticmethod
    def _state_value(e) -> dict:
        data = b"".join(bytes(e[f"v{i}"]) for i in range(int(e.get("chunks", 0))))
        return json.loads(data) if data else {}

    def counts(self) -> dict[str, int]:
        out = {"events": sum(1 for _ in self.events.query_entities("RowKey eq @m", parameters={"m": MARKER},
                                                                   select=["RowKey"]))}
        statuses = [e.get("status") for e in self.notifications.list_entities(select=["status"])]
        for status in ("pending", "sent", "dead", "held"):
            out[status] = statuses.count(status)
        return out

    def flush_index(self, limit: int | None = None) -> int:
        """Nothing to build: the event list scans the events table."""
        return 0

    def transaction(self):
        """Tables have no multi-entity transactions across partitions: each write stands alone."""
        return contextlib.nullcontext()

    def close(self) -> None:
        for pool in (self._ingest_pool, self._pool):
            if pool is not None:
                pool.shutdown(wait=True)
        self._pool = self._ingest_pool = None
        for client in (self.events, self.notifications, self.attempts, self.state, self.service, self.queue):
            if client is not None:
                try:
                    client.close()
                except Exception:  # closing is best effort
                    pass

    # --- the operator console (the event list through its index rows; the rest filtered scans) ---

    def list_events(self, filters: EventFilter, cursor: str = "", limit: int = 50) -> EventPage:
        """Newest first, through the event list's index rows (a partition per day of intake, newest
        first): source, kind, severity and the time range filtered by the service, role and labels
        on the rows, until the page is full; then the page's events are read. Events stored before
        the index existed are found by a filtered scan once the index has none left to give."""
        meta = self._list_meta(None)
        if meta is None:  # nothing taken in since the index exists
            return self._scan_events(filters, cursor, limit)
        since, legacy = meta
        after = parse_cursor(cursor)
        query, params = ["PartitionKey ge @lo and PartitionKey lt @hi"], {"lo": LIST, "hi": LIST_END}
        self._service_filters(filters, after, query, params)
        picked: list[tuple[float, str, str]] = []  # (received_at, id, event partition), newest first
        read: dict[str, dict | None] = {}  # event records read to test labels too long for their row

        def take(group: list) -> bool:  # rows of one instant, in id order as SQLite gives them
            for row in sorted(group, key=lambda r: r["id"], reverse=True):
                key = (float(row["received_at"]), row["id"])
                if after is not None and key >= after:
                    continue
                if filters.role and filters.role not in json.loads(row.get("roles") or "[]"):
                    continue
                if filters.labels and not self._labels_match(row, filters.labels, read):
                    continue
                picked.append((*key, _h(row["id"])))
                if len(picked) > limit:
                    return True
            return False

        group: list = []
        full = False
        for row in self.events.query_entities(" and ".join(query), parameters=params,
                                              select=["id", "received_at", "roles", "labels", "labels_in_event"]):
            if group and float(row["received_at"]) != float(group[0]["received_at"]):
                if take(group):
                    full = True
                    break
                group = []
            group.append(row)
        if not full and group:
            full = take(group)
        more = len(picked) > limit
        picked = picked[:limit]
        records = self._parallel([lambda k=k: read[k[2]] if k[2] in read else self._entity(self.events, k[2], BODY)
                                  for k in picked])
        found = [(self._event_of(r), at) for (at, eid, _), r in zip(picked, records)
                 if r is not None and float(r["received_at"]) == at]  # (a row left by an interrupted intake)
        if not more and legacy and len(found) < limit:  # events from before the index: the old scan
            rest = self._scan_events(filters, page_cursor(*picked[-1][:2]) if picked else cursor, limit - len(found),
                                     before=since)
            return EventPage(found + rest.events, rest.next_cursor)
        return EventPage(found, page_cursor(*picked[-1][:2]) if more and picked else "")

    def _labels_match(self, row, labels, read: dict) -> bool:
        if row.get("labels_in_event"):
            pk = _h(row["id"])
            record = read[pk] = self._entity(self.events, pk, BODY)  # kept: the page reads it again
            have = self._event_of(record).labels if record is not None else {}
        else:
            have = json.loads(row.get("labels") or "{}")
        return all(have.get(k) == v for k, v in labels)

    @staticmethod
    def _service_filters(filters: EventFilter, after, query: list, params: dict) -> None:
        for name in ("source", "kind", "severity"):
            if getattr(filters, name):
                query.append(f"{name} eq @{name}")
                params[name] = getattr(filters, name)
        if filters.since is not None:
            query.append("received_at ge @since")
            params["since"] = float(filters.since)
        if filters.until is not None:
            query.append("received_at lt @until")
            params["until"] = float(filters.until)
        if after is not None:
            query.append("received_at le @after")
            params["after"] = float(after[0])

    def _list_meta(self, now: float | None) -> tuple[float, bool] | None:
        """(since, legacy): every event taken in since `since` has its index row; `legacy` when
        events were stored before. With `now` (intake), the mark is made first if missing."""
        if self._list_since is not None:
            return self._list_since
        found = self._entity(self.state, LIST_META, "since")
        if found is None and now is not None:
            older = next(iter(self.events.query_entities("RowKey eq @b", parameters={"b": BODY},
                                                         results_per_page=1, select=["RowKey"])), None)
            try:
                self.state.create_entity({"PartitionKey": LIST_META, "RowKey": "since", "since": float(now),
                                          "legacy": older is not None})
            except ResourceExistsError:
                pass  # another instance made it first
            found = self._entity(self.state, LIST_META, "since")
        if found is None:
            return None
        self._list_since = (float(found["since"]), bool(found.get("legacy")))
        return self._list_since

    def _scan_events(self, filters: EventFilter, cursor: str = "", limit: int = 50,
                     before: float | None = None) -> EventPage:
        """The event list without the index (events stored before it, received before `before`): a
        filtered scan of the event records; the role through one scan of the outbox, labels on the
        event bodies, newest first, until the page is full."""
        query, params = ["RowKey eq @b"], {"b": BODY}
        after = parse_cursor(cursor)
        self._service_filters(filters, after, query, params)
        if before is not None:
            query.append("received_at lt @before")
            params["before"] = float(before)
        rows = self.events.query_entities(" and ".join(query), parameters=params,
                                          select=["PartitionKey", "id", "received_at"])
        keys = sorted(((float(e["received_at"]), e["id"], e["PartitionKey"]) for e in rows), reverse=True)
        if after is not None:
            keys = [k for k in keys if (k[0], k[1]) < after]
        if filters.role:
            with_role = {e["event_id"] for e in self.notifications.query_entities(
                "role eq @r", parameters={"r": filters.role}, select=["event_id"])}
            keys = [k for k in keys if k[1] in with_role]
        found: list[tuple[Event, float]] = []
        more = False
        for at, eid, pk in keys:
            record = self._entity(self.events, pk, BODY)
            if record is None:
                continue
            event = self._event_of(record)
            if any(event.labels.get(k) != v for k, v in filters.labels):
                continue
            if len(found) == limit:
                more = True
                break
            found.append((event, at))
        return EventPage(found, page_cursor(found[-1][1], found[-1][0].id) if more and found else "")

    def channel_activity(self) -> dict[str, ChannelActivity]:
        """Per channel, the last delivered attempt and the last failed one: a scan of the attempts."""
        channel_of = {e["id"]: e["channel"] for e in self.notifications.list_entities(select=["id", "channel"])}
        out: dict[str, ChannelActivity] = {}
        for a in self.attempts.list_entities(select=["notification_id", "at", "status", "detail"]):
            channel = channel_of.get(a.get("notification_id", ""))
            status = a.get("status")
            if channel is None or status not in ("delivered", "retry", "failed"):
                continue
            act = out.setdefault(channel, ChannelActivity(channel))
            at = float(a["at"])
            if status == "delivered":
                act.last_success = max(at, act.last_success or at)
            elif act.last_failure is None or at > act.last_failure:
                act.last_failure, act.last_failure_detail = at, a.get("detail", "")
        return out

    # --- helpers ---

    def _entity(self, table, pk: str, rk: str, select: list[str] | None = None):
        try:
            return table.get_entity(pk, rk, select=select) if select else table.get_entity(pk, rk)
        except ResourceNotFoundError:
            return None

    def _index_rows(self, event_pk: str):
        return self.events.query_entities("PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                                          parameters={"pk": event_pk, "lo": "n-", "hi": "n."},
                                          select=["PartitionKey", "RowKey", "notification_id"])

    def _record(self, a: Attempt) -> None:
        entity = {"PartitionKey": _h(a.notification_id), "RowKey": _attempt_rk(a.at, a.number),
                  "notification_id": a.notification_id, "number": int(a.number), "at": float(a.at),
                  "status": a.status, "detail": _clip(a.detail)}
        if a.retry_after is not None:
            entity["retry_after"] = float(a.retry_after)
        self.attempts.upsert_entity(entity, mode=UpdateMode.REPLACE)

    @staticmethod
    def _delete(table, pk: str, rk: str) -> None:
        if not pk or not rk:
            return
        try:
            table.delete_entity(pk, rk)
        except ResourceNotFoundError:
            pass

    @staticmethod
    def _delete_all(table, rows) -> None:
        """Delete rows of one partition, in entity-group transactions of up to 100."""
        ops = [("delete", {"PartitionKey": r["PartitionKey"], "RowKey": r["RowKey"]}) for r in rows]
        for i in range(0, len(ops), BATCH):
            table.submit_transaction(ops[i:i + BATCH])


def _list_keys(event_id: str, received_at: float) -> tuple[str, str]:
    """The event list row's keys: the UTC day of intake inverted (newest partition first), then the
    instant inverted (newest row first) and the id's hash."""
    day = int(datetime.fromtimestamp(received_at, timezone.utc).strftime("%Y%m%d"))
    return f"{LIST}{99_999_999 - day:08d}", f"{1e11 - received_at:018.6f}-{_h(event_id)}"


def _list_row(event: Event, notifications: list[Notification], received_at: float, pk: str, rk: str) -> dict:
    labels = json.dumps(event.labels, ensure_ascii=False, separators=(",", ":"))
    row = {"PartitionKey": pk, "RowKey": rk, "id": _clip(event.id), "received_at": float(received_at),
           "source": event.source, "kind": _clip(event.kind, 1000), "severity": event.severity.value,
           "roles": json.dumps(sorted({n.role for n in notifications}))}
    if len(labels) <= LIST_LABELS_MAX:
        row["labels"] = labels
    else:
        row["labels_in_event"] = True
    return row


ENVIRONMENT_SETTINGS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle", "curl_ca_bundle",
                        "netrc")


def _transport() -> dict:
    """Client options for the SDK's transport. `requests` reads proxies, CA bundles and .netrc from the
    environment on every request (a sixth of a storage call's CPU, and a call costs 0.6-0.7 ms): where
    none of them is set, nor a ~/.netrc, it is told not to look. Otherwise the SDK's default, unchanged."""
    try:
        netrc = (Path.home() / ".netrc").exists()
    except (RuntimeError, OSError):  # no home directory to look in
        netrc = False
    if netrc or any(k.lower() in ENVIRONMENT_SETTINGS for k in os.environ):
        return {}
    return {"transport": RequestsTransport(use_env_settings=False)}
