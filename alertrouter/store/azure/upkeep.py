"""The Azure store's outbox upkeep: re-driving dead notifications, purging old ones with their
events, and the figures the metrics read (next due, oldest pending, counts by status)."""

from __future__ import annotations

import json
from typing import Iterable

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from ..records import Attempt
from .entities import (_OPTIMISTIC_TRIES, BODY, DUPLICATE, DUPLICATE_END, LIST, LIST_END, MARKER, NOTIFICATION_RK,
                       _conflict, _h, _history_count, _history_in_row, _history_rows)
from .tables import Tables


class AzureOutboxUpkeep(Tables):
    """Re-drive, purge and the outbox's figures, on the notifications, attempts and events tables."""

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
                note = Attempt(nid, 0, now, "redriven", "re-driven by an operator")
                entity = {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"], "status": "pending",
                          "attempts": 0, "next_attempt_at": float(now), "updated_at": float(now),
                          "lease_owner": "", "lease_until": 0.0}
                in_row = _history_in_row(entity, _history_count(e), note)
                try:
                    self.notifications.update_entity(entity, mode=UpdateMode.MERGE, etag=e.metadata["etag"],
                                                     match_condition=MatchConditions.IfNotModified)
                except ResourceNotFoundError:
                    break
                except HttpResponseError as exc:
                    if _conflict(exc):
                        continue
                    raise
                if not in_row:
                    self._record(note)
                done.append(nid)
                break
        return done

    def purge(self, older_than: float) -> int:
        """Delete sent, dead and held notifications (and their history) last updated before `older_than`,
        and events received before then with no notification left."""
        old = list(self.notifications.query_entities(
            "( status eq 'sent' or status eq 'dead' or status eq 'held' ) and updated_at lt @t", parameters={"t": float(older_than)},
            select=["PartitionKey", "RowKey", "id", "event_id", "history", "history_rows"]))
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
            if _history_rows(e):
                history = self.attempts.query_entities("PartitionKey eq @pk", parameters={"pk": e["PartitionKey"]},
                                                       select=["PartitionKey", "RowKey"])
                self._delete_all(self.attempts, history)
            self._delete(self.events, _h(e["event_id"]), "n-" + e["PartitionKey"])
        events = list(self.events.query_entities(  # event records, also of ingests that never completed
            "RowKey eq @b and received_at lt @t", parameters={"b": BODY, "t": float(older_than)},
            select=["PartitionKey", "RowKey", "first_pk", "first_rk", "list_pk", "list_rk", "nids", "nids_rows"]))
        for record in events:
            left = False
            if record.get("nids") is not None and not record.get("nids_rows"):  # the ids in the record
                left = any(self._entity(self.notifications, _h(nid), NOTIFICATION_RK, select=["RowKey"]) is not None
                           for nid in json.loads(record["nids"]))
            for row in [] if record.get("nids") is not None and not record.get("nids_rows") else \
                    self._index_rows(record["PartitionKey"]):
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

    def counts(self) -> dict[str, int]:
        taken = "RowKey eq @m or (PartitionKey ge @lo and PartitionKey lt @hi and taken eq true)"  # see intake.py
        out = {"events": sum(1 for _ in self.events.query_entities(
            taken, parameters={"m": MARKER, "lo": LIST, "hi": LIST_END}, select=["RowKey"]))}
        statuses = [e.get("status") for e in self.notifications.list_entities(select=["status"])]
        for status in ("pending", "sent", "dead", "held"):
            out[status] = statuses.count(status)
        return out
