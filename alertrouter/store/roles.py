"""The store's roles: one protocol per kind of caller (intake's event log, delivery's outbox and
queue, the pipeline's state documents, the console's queries). `base.Store` is their union, and
`SqliteStore` and `AzureStore` implement every one of them in full.

A caller that needs one role names it (`EventLog`, `StateDocuments`…): it then needs nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import ContextManager, Iterable, Protocol

from ..model import Event
from .records import Attempt, ChannelActivity, EventFilter, EventPage, IngestOutcome, Notification, Status


class EventLog(Protocol):
    """The events taken in, each once."""

    def ingest(self, items: list[tuple[Event, list[Notification]]], now: float) -> list[IngestOutcome]:
        """Record each event with its notifications; a redelivered event id adds nothing (new=False)."""

    def get_event(self, event_id: str) -> Event | None:
        """The event as taken in, or None."""

    def first_time(self, fingerprint: str, kind: str) -> datetime | None:
        """When the earliest event of `kind` (one of FIRST_TIME_KINDS) with this fingerprint happened."""

    def events_between(self, start: datetime, end: datetime, kinds: Iterable[str] | None = None) -> list[Event]:
        """Events whose `time` is in [start, end), of `kinds` (all when None), by time and those of the
        same time in the order they were taken in (as far as the store keeps it), without
        their raw payloads (`raw` is None; `get_event` has it): the readers of a period (the digest,
        the noise report, replay) use the routed fields only, and the payload is most of the cost of
        reading a stored event back."""

    def duplicates_of(self, event_id: str, limit: int = 20) -> tuple[int, list[float]]:
        """How often the event was redelivered after it was taken in, and the latest `limit` times."""


class Outbox(Protocol):
    """The notifications to deliver: leased to one dispatcher at a time, with each attempt's history."""

    def claim(self, now: float, limit: int, lease_seconds: float, owner: str,
              ids: Iterable[str] | None = None) -> list[Notification]:
        """Lease up to `limit` due notifications (of `ids` when given) to `owner`, earliest due first."""

    def finish(self, n: Notification, owner: str, attempt: Attempt, status: Status, next_attempt_at: float,
               now: float) -> bool:
        """Record the attempt and the new status, only while `owner` holds the lease (False if not)."""

    def release(self, ids: Iterable[str], owner: str) -> None:
        """Hand back the leases `owner` holds on `ids`, unchanged otherwise."""

    def defer(self, notification_id: str, owner: str, until: float, detail: str, now: float) -> bool:
        """Hand a claimed notification back, due at `until`, without spending an attempt."""

    def get(self, notification_id: str) -> Notification | None:
        """One notification, or None."""

    def list(self, status: Status | None = None, limit: int = 100) -> list[Notification]:
        """Notifications (of `status` when given), newest first, at most `limit`."""

    def made_between(self, start: float, end: float) -> list[Notification]:
        """Notifications created in [start, end) (epoch seconds), held ones too, by (created_at, id)."""

    def history(self, notification_id: str) -> list[Attempt]:
        """The notification's attempts, oldest first."""

    def redrive(self, ids: Iterable[str] | None, now: float) -> list[str]:
        """Dead (or the given, not pending) notifications become pending again, due now; their ids."""

    def purge(self, older_than: float) -> int:
        """Delete finished notifications (and history) last updated before `older_than`, and their events."""

    def next_due(self) -> float | None:
        """When the next pending notification is due (its lease included), or None."""

    def oldest_pending(self) -> float | None:
        """When the oldest pending notification was created, or None."""

    def counts(self) -> dict[str, int]:
        """How many events, and notifications by status (pending, sent, dead, held)."""


class StateDocuments(Protocol):
    """Small documents with optimistic concurrency: silences, alert state, groups, escalations,
    acknowledgements, digest periods. `version` starts at 1."""

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None:
        """The document and its version, or None."""

    def state_put(self, kind: str, key: str, value: dict, expected: int | None, now: float) -> bool:
        """Create if absent (expected=None) or replace version `expected`; False when it loses."""

    def state_list(self, kind: str, limit: int | None = None) -> list[tuple[str, dict, int]]:
        """Every document of the kind by key, or at most `limit` of them (which ones is the store's)."""

    def state_delete(self, kind: str, key: str) -> None:
        """Delete the document if it is there."""


class ConsoleQueries(Protocol):
    """What the operator console and the status page read."""

    def list_events(self, filters: EventFilter, cursor: str = "", limit: int = 50) -> EventPage:
        """One page of the events that match, newest first, continued by the page's cursor."""

    def notifications_for(self, event_id: str) -> list[Notification]:
        """The event's notifications, by id."""

    def channel_activity(self) -> dict[str, ChannelActivity]:
        """Per channel, its last delivered attempt and its last failed one (with the detail)."""

    def flush_index(self, limit: int | None = None) -> int:
        """Build the event list's index for events taken in since the last flush; how many events."""


class DeliveryQueue(Protocol):
    """The wake-up that gets notifications delivered."""

    def enqueue(self, ids: list[str], delay_seconds: float = 0) -> None:
        """Ask for delivery of these notifications after `delay_seconds`."""


class Lifecycle(Protocol):
    """Grouping writes, and letting go of the store."""

    def transaction(self) -> ContextManager:
        """Group writes into one transaction where the store can; else each write stands alone."""

    def close(self) -> None:
        """Release connections, clients and worker threads."""


ROLES = (EventLog, Outbox, StateDocuments, ConsoleQueries, DeliveryQueue, Lifecycle)
