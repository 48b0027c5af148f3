"""The Azure store's outbox: claiming, finishing, deferring and releasing notifications, their
history, re-driving, purging, and the outbox's counts.

Claiming scans for due notifications (status 'pending', next_attempt_at and lease_until <= now;
a filtered table scan, so keep the outbox purged) and leases each with a conditional merge; `finish`
and `release` check lease_owner and write with If-Match, so a caller whose lease ran out and was
taken over records nothing.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Iterable

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from ..records import Attempt, Notification, Status
from .entities import (_OPTIMISTIC_TRIES, BODY, DUPLICATE, DUPLICATE_END, MARKER, NOTIFICATION_RK, _clip, _conflict, _h,
                       _to_attempt, _to_n)
from .tables import Tables

_DUE = "status eq 'pending' and next_attempt_at le @now and lease_until le @now"


class AzureOutbox(Tables):
    """The Outbox role on the notifications and attempts tables."""

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

    def made_between(self, start: float, end: float) -> list[Notification]:
        """A filtered scan of the outbox table (replay's read of a period, not a hot path)."""
        rows = self.notifications.query_entities("RowKey eq @rk and created_at ge @s and created_at lt @e",
                                                 parameters={"rk": NOTIFICATION_RK, "s": float(start), "e": float(end)})
        return sorted((_to_n(e) for e in rows), key=lambda n: (n.created_at, n.id))

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
        out = {"events": sum(1 for _ in self.events.query_entities("RowKey eq @m", parameters={"m": MARKER},
                                                                   select=["RowKey"]))}
        statuses = [e.get("status") for e in self.notifications.list_entities(select=["status"])]
        for status in ("pending", "sent", "dead", "held"):
            out[status] = statuses.count(status)
        return out
