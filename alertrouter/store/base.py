"""The store interface: events taken in, the outbox of notifications, and their delivery history.

Two implementations honour it and run the same contract tests: `SqliteStore` (embedded default)
and `AzureStore` (Table Storage + Storage Queues, shared by any number of Function instances).

Guarantees every implementation gives:
- `ingest` records an event and its notifications so that a redelivered event (same id) adds
  nothing, and a crash part-way never leaves an event taken in without its notifications.
- Notifications are keyed by their id (event + route + role + channel): put-if-absent.
- `claim` leases due notifications to one owner: two dispatchers never hold the same one at once.
- `finish` records an attempt and the new state only while the caller still holds the lease.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import ContextManager, Iterable, Literal, Protocol

from ..model import Event

Status = Literal["pending", "sent", "dead", "held"]  # held: a stage kept it back (reason in last_detail)


@dataclass
class Notification:
    id: str
    event_id: str
    route: str
    role: str
    channel: str
    fallback_from: str = ""
    status: Status = "pending"
    attempts: int = 0
    created_at: float = 0.0  # epoch seconds
    updated_at: float = 0.0
    next_attempt_at: float = 0.0
    lease_owner: str = ""
    lease_until: float = 0.0
    last_detail: str = ""

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Attempt:
    notification_id: str
    number: int
    at: float
    status: str  # delivered | retry | failed | redriven
    detail: str = ""
    retry_after: float | None = None


@dataclass
class IngestOutcome:
    new: bool
    notifications: list[Notification] = field(default_factory=list)


@dataclass(frozen=True)
class EventFilter:
    """What the console's event list asks for; every field that is set must hold.

    `labels` are (key, value) pairs, all required; `role` means "a notification of the event went
    (or was held) for that role"; `since`/`until` bound the time the event was taken in
    (received_at, epoch seconds, until exclusive)."""

    source: str = ""
    kind: str = ""
    severity: str = ""
    role: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    since: float | None = None
    until: float | None = None


@dataclass
class EventPage:
    """One page of events, newest first (by received_at, then id); `next_cursor` continues after
    the last one, "" when there is no more."""

    events: list[tuple[Event, float]]  # (event, received_at)
    next_cursor: str = ""


def page_cursor(received_at: float, event_id: str) -> str:
    """An opaque cursor: the (received_at, id) of the last event shown."""
    return base64.urlsafe_b64encode(f"{received_at!r}|{event_id}".encode()).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[float, str] | None:
    """(received_at, id) from `page_cursor`, or None for an empty or unreadable cursor."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, eid = raw.partition("|")
        return float(at), eid
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class ChannelActivity:
    """A channel's last delivery and last failed attempt (epoch seconds), for the status page."""

    channel: str
    last_success: float | None = None
    last_failure: float | None = None
    last_failure_detail: str = ""


# The kinds whose earliest instant per fingerprint is asked for: a run's start (for its duration when
# it ends), an alert's first firing (when it resolves). The Azure store keeps an index for these only.
FIRST_TIME_KINDS = frozenset({"run.started", "alert.fired"})


class Store(Protocol):
    def ingest(self, items: list[tuple[Event, list[Notification]]], now: float) -> list[IngestOutcome]: ...

    def get_event(self, event_id: str) -> Event | None: ...

    def first_time(self, fingerprint: str, kind: str) -> datetime | None: ...  # kind: one of FIRST_TIME_KINDS

    def claim(self, now: float, limit: int, lease_seconds: float, owner: str,
              ids: Iterable[str] | None = None) -> list[Notification]: ...

    def finish(self, n: Notification, owner: str, attempt: Attempt, status: Status, next_attempt_at: float,
               now: float) -> bool: ...

    def release(self, ids: Iterable[str], owner: str) -> None: ...

    def defer(self, notification_id: str, owner: str, until: float, detail: str, now: float) -> bool: ...

    def get(self, notification_id: str) -> Notification | None: ...

    def list(self, status: Status | None = None, limit: int = 100) -> list[Notification]: ...

    def history(self, notification_id: str) -> list[Attempt]: ...

    def redrive(self, ids: Iterable[str] | None, now: float) -> list[str]: ...

    def purge(self, older_than: float) -> int: ...

    def next_due(self) -> float | None: ...

    def oldest_pending(self) -> float | None: ...

    # --- small documents with optimistic concurrency: silences, alert state, groups, escalations,
    # acknowledgements. `version` starts at 1; `state_put(..., expected=None)` creates only if absent,
    # `expected=N` replaces only if the stored version is still N. Both return False when they lose. ---

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None: ...

    def state_put(self, kind: str, key: str, value: dict, expected: int | None, now: float) -> bool: ...

    def state_list(self, kind: str, limit: int | None = None) -> list[tuple[str, dict, int]]: ...
    # every document of the kind by key, or at most `limit` of them (some: which ones is the store's)

    def state_delete(self, kind: str, key: str) -> None: ...

    def counts(self) -> dict[str, int]: ...

    def duplicates_of(self, event_id: str, limit: int = 20) -> tuple[int, list[float]]: ...  # redeliveries

    def flush_index(self, limit: int | None = None) -> int: ...  # index events for the event list (SQLite)

    def transaction(self) -> ContextManager: ...  # groups writes where the store can (SQLite); else a no-op

    def close(self) -> None: ...

    # --- for the operator console ---

    def list_events(self, filters: EventFilter, cursor: str = "", limit: int = 50) -> EventPage: ...

    def notifications_for(self, event_id: str) -> list[Notification]: ...

    def channel_activity(self) -> dict[str, ChannelActivity]: ...
