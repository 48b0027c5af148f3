"""Azure store: Table Storage for events, the outbox and history; a Storage Queue to drive delivery.

One section a module: entities.py (keys and rows), tables.py (clients and shared requests),
intake.py (the event log), outbox.py, state.py (state documents), queries.py (the console's).

Any number of Function instances share one storage account. Nothing here holds a lock: every
read-modify-write is an optimistic update (If-Match on the entity's ETag), so of two instances that
race for the same entity exactly one wins and the other re-reads or moves on.

Tables (`<prefix>Events`, `<prefix>Notifications`, `<prefix>Attempts`). Keys cannot hold / \\ # ?
or control characters, so every key is a hash (`_h`, 128 bits of SHA-256) and the real id is kept
as a property:

    Events         PK h(event id)            RK "body"          the event: received_at and place in its batch, kind, fingerprint…
                                                                and its JSON split over binary
                                                                properties body00, body01…
                   PK h(event id)            RK "n-" h(nid)     one row per notification of the event
                                                                (notifications_for, purge)
                   PK h(event id)            RK "event"         the marker: the event was taken in (records
                                                                without `v`, written before the list row came last)
                   PK "first-" h(fp, kind)   RK utc time "-" h(event id)   run-start index: the first
                                                                row of the partition is the earliest
                                                                (FIRST_TIME_KINDS only: run.started)
                   PK "ls-" inverted UTC day RK inverted instant "-" h(event id)   the event list's
                                                                index: newest first, with the event's
                                                                source, kind, severity, roles, labels;
                                                                written last, it marks the event taken in
    Notifications  PK h(notification id)     RK "n"             every Notification field, and its
                                                                attempts (history, h000… up to
                                                                HISTORY_IN_ROW; `history` counts them)
    Attempts       PK h(notification id)     RK at "-" number   attempts past those, with a long
                                                                detail, or of notifications made
                                                                before history was kept in the row

Times are epoch seconds stored as Edm.Double, as in SQLite (always written as floats: the service
never compares a Double with an Int32).

The queue carries notification ids, one a line and up to IDS_PER_MESSAGE a message (the
notifications one intake call made, together: one request, one invocation that leases them
concurrently), base64-encoded as the Functions queue trigger expects by default (host.json
`messageEncoding: base64`).

Credentials: a connection string (Azurite, account keys) or the account name with
DefaultAzureCredential (managed identity). Neither is ever logged or put in an error message.
"""

from __future__ import annotations

import math

from .entities import (BATCH, BODY, CHUNK_BYTES, DUPLICATE, DUPLICATE_END, IDS_PER_MESSAGE, LIST, LIST_END,
                       LIST_LABELS_MAX, LIST_META, MARKER, MAX_BODY_BYTES, MAX_TEXT, MAX_VISIBILITY, NIDS_MAX_CHARS,
                       NOTIFICATION_RK, PARALLEL_WRITES, SEPARATE_WRITES, _h, event_body)
from .intake import AzureEventLog
from .outbox import AzureOutbox
from .queries import AzureConsoleQueries
from .state import AzureStateDocuments
from .tables import AZURITE_KEY, DEVELOPMENT_STORAGE, ENVIRONMENT_SETTINGS, _transport

__all__ = ["AZURITE_KEY", "BATCH", "BODY", "CHUNK_BYTES", "DEVELOPMENT_STORAGE", "DUPLICATE", "DUPLICATE_END",
           "ENVIRONMENT_SETTINGS", "IDS_PER_MESSAGE", "LIST", "LIST_END", "LIST_LABELS_MAX", "LIST_META", "MARKER",
           "MAX_BODY_BYTES", "MAX_TEXT", "MAX_VISIBILITY", "NIDS_MAX_CHARS", "NOTIFICATION_RK", "PARALLEL_WRITES",
           "SEPARATE_WRITES", "AzureStore", "_h", "_transport", "event_body", "messages"]


class AzureStore(AzureEventLog, AzureOutbox, AzureStateDocuments, AzureConsoleQueries):
    """Every Store role on Azure Table Storage, and the DeliveryQueue role on a Storage Queue."""

    remote = True  # every read is a network request: callers may reuse a shared document for a moment

    def enqueue(self, ids: list[str], delay_seconds: float = 0) -> None:
        """The notification ids, up to IDS_PER_MESSAGE a message, one a line (base64 text, as the
        queue trigger expects), visible after `delay_seconds` (rounded up; at most about 7 days —
        the timer sweep catches anything later). The messages of one call go out concurrently."""
        if self.queue is None:
            raise RuntimeError("this AzureStore has no queue client")
        visibility = min(MAX_VISIBILITY, math.ceil(delay_seconds)) if delay_seconds > 0 else None
        self._parallel([lambda m=m: self.queue.send_message(m, visibility_timeout=visibility) for m in messages(ids)])


def messages(ids: list[str]) -> list[str]:
    """The queue messages that name these notification ids: each id once, one a line, up to
    IDS_PER_MESSAGE a message (handlers/deliveries.py reads them)."""
    ids = list(dict.fromkeys(ids))
    return ["\n".join(ids[i:i + IDS_PER_MESSAGE]) for i in range(0, len(ids), IDS_PER_MESSAGE)]
