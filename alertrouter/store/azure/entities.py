"""The Azure store's rows: keys (hashes of ids), limits, and the entity each record is stored as
(a notification, an attempt, an event's body split into chunks, the event list's index row)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from azure.core.exceptions import HttpResponseError, ResourceModifiedError

from ...model import Event
from ..records import Attempt, Notification

MARKER = "event"  # "taken in", for records without `v` (the event list's row is that now)
BODY = "body"  # the event itself: written first
DUPLICATE, DUPLICATE_END = "dup-", "dup."  # one row per redelivery after the event was taken in
LIST, LIST_END = "ls-", "ls."  # the event list's index: a partition per UTC day of intake, the newest first
LIST_META = "lsmeta"  # a row of the state table: since when every event has its index row
LIST_LABELS_MAX = 30_000  # characters of label JSON kept in an index row; more: read from the event
NOTIFICATION_RK = "n"
NIDS_MAX_CHARS = 30_000  # the JSON list of an event's notification ids kept in its record; longer: index rows
CHUNK_BYTES = 64_000  # one binary property (limit 64 KiB)
MAX_BODY_BYTES = 14 * CHUNK_BYTES  # the entity limit is 1 MiB: leave room for the other properties
MAX_TEXT = 16_000  # characters in a free-text property (64 KiB in UTF-16 even for astral characters)
HISTORY_IN_ROW = 16  # attempts kept in a notification's row (each at most ~33 KiB: ~530 KiB in all)
HISTORY_DETAIL = MAX_TEXT // 2  # a longer detail goes to the attempts table, where it keeps MAX_TEXT
MAX_VISIBILITY = 7 * 24 * 3600 - 60  # a queue message is hidden at most 7 days (and less than its TTL)
IDS_PER_MESSAGE = 16  # notification ids a queue message names (the queue trigger takes up to 64: handlers/deliveries.py)
BATCH = 100  # entity-group transaction limit
SEPARATE_WRITES = 3  # up to this many rows of one partition are cheaper as single requests than as a transaction
_OPTIMISTIC_TRIES = 8
PARALLEL_WRITES = 8  # concurrent writes of a step of intake (within the SDK's 10 connections)


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
        "lease_until": float(n.lease_until), "last_detail": _clip(n.last_detail), "history": 0,
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

def _history_in_row(entity: dict, history: int, a: Attempt) -> bool:
    """Add attempt `a` to a notification's merge as its history property number `history`, if the
    row has room and the detail is short enough (False: it goes to the attempts table instead).
    `history` -1: a row written before history was kept in rows (its attempts are in the table)."""
    if history < 0:
        entity["history_rows"] = True
        history = 0
    if history >= HISTORY_IN_ROW or len(a.detail) > HISTORY_DETAIL:
        entity["history_rows"] = True
        return False
    doc = {"number": int(a.number), "at": float(a.at), "status": a.status, "detail": a.detail}
    if a.retry_after is not None:
        doc["retry_after"] = float(a.retry_after)
    entity[f"h{history:03d}"] = json.dumps(doc, ensure_ascii=False)
    entity["history"] = history + 1
    return True

def _history_of(e) -> list[Attempt]:
    """The attempts kept in a notification's row."""
    out = []
    for i in range(max(0, _history_count(e))):
        doc = json.loads(e[f"h{i:03d}"])
        out.append(Attempt(notification_id=e["id"], number=int(doc["number"]), at=float(doc["at"]),
                           status=doc["status"], detail=doc.get("detail", ""), retry_after=doc.get("retry_after")))
    return out

def _history_count(e) -> int:
    """How many attempts the row holds; -1 for a row written before history was kept in rows."""
    return int(e["history"]) if "history" in e else -1

def _history_rows(e) -> bool:
    """Whether some of the notification's history is in the attempts table (made before history was
    kept in the row, or past what the row holds)."""
    return "history" not in e or bool(e.get("history_rows"))

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

def _list_keys(event_id: str, received_at: float) -> tuple[str, str]:
    """The event list row's keys: the UTC day of intake inverted (newest partition first), then the
    instant inverted (newest row first) and the id's hash."""
    day = int(datetime.fromtimestamp(received_at, timezone.utc).strftime("%Y%m%d"))
    return f"{LIST}{99_999_999 - day:08d}", f"{1e11 - received_at:018.6f}-{_h(event_id)}"

def _list_row(event: Event, notifications: list[Notification], received_at: float, pk: str, rk: str) -> dict:
    labels = json.dumps(event.labels, ensure_ascii=False, separators=(",", ":"))
    row = {"PartitionKey": pk, "RowKey": rk, "id": _clip(event.id), "received_at": float(received_at),
           "source": event.source, "kind": _clip(event.kind, 1000), "severity": event.severity.value,
           "roles": json.dumps(sorted({n.role for n in notifications})),
           "taken": True}  # made last by intake: the event was taken in (rows written before: see the marker)
    if len(labels) <= LIST_LABELS_MAX:
        row["labels"] = labels
    else:
        row["labels_in_event"] = True
    return row
