"""The store interface: `Store`, the union of the roles in roles.py, and the records it keeps.

Two implementations honour it and run the same contract tests: `SqliteStore` (embedded default)
and `AzureStore` (Table Storage + Storage Queues, shared by any number of Function instances).

Guarantees every implementation gives:
- `ingest` records an event and its notifications so that a redelivered event (same id) adds
  nothing, and a crash part-way never leaves an event taken in without its notifications.
- Notifications are keyed by their id (event + route + role + channel): put-if-absent.
- `claim` leases due notifications to one owner: two dispatchers never hold the same one at once.
- `finish` records an attempt and the new state only while the caller still holds the lease.

A store whose reads cross the network says so with a class attribute `remote = True` (Azure): the
pipeline then reads the silences' revision once a second instead of once an event.
"""

from __future__ import annotations

from typing import Protocol

from .records import (FIRST_TIME_KINDS, Attempt, ChannelActivity, EventFilter, EventPage, IngestOutcome,
                      Notification, Status, page_cursor, parse_cursor)
from .roles import ROLES, ConsoleQueries, DeliveryQueue, EventLog, Lifecycle, Outbox, StateDocuments

__all__ = ["FIRST_TIME_KINDS", "ROLES", "Attempt", "ChannelActivity", "ConsoleQueries", "DeliveryQueue", "EventFilter",
           "EventLog", "EventPage", "IngestOutcome", "Lifecycle", "Notification", "Outbox", "StateDocuments", "Status",
           "Store", "page_cursor", "parse_cursor"]


class Store(EventLog, Outbox, StateDocuments, ConsoleQueries, DeliveryQueue, Lifecycle, Protocol):
    """Every role: what the app holds and hands to each part the role it needs."""
