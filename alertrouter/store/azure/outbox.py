"""The Azure store's outbox: claiming, finishing, deferring and releasing notifications, and their
history (re-driving, purging and the outbox's counts: upkeep.py).

A delivery costs two requests: the lease (a conditional merge; by ids, on the etag of the entity as
this process created it, or after reading it) and the result, one conditional merge that also holds
the attempt (history lives in the notification's row, `h000`, `h001`…, up to HISTORY_IN_ROW
attempts; further ones, and notifications made before, use the attempts table).

Claiming scans for due notifications (status 'pending', next_attempt_at and lease_until <= now;
a filtered table scan, so keep the outbox purged) and leases each with a conditional merge; `finish`
and `release` check lease_owner and write with If-Match, so a caller whose lease ran out and was
taken over records nothing.
"""

from __future__ import annotations

import itertools
import logging
import random
from typing import Iterable

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from ..records import Attempt, Notification, Status
from .entities import (_OPTIMISTIC_TRIES, NOTIFICATION_RK, _clip, _conflict, _h,
                       _history_count, _history_in_row, _history_of, _history_rows, _to_attempt, _to_n)
from .upkeep import AzureOutboxUpkeep

log = logging.getLogger("alertrouter.store.azure")

_DUE = "status eq 'pending' and next_attempt_at le @now and lease_until le @now"


class AzureOutbox(AzureOutboxUpkeep):
    """The Outbox role on the notifications and attempts tables (its upkeep in upkeep.py)."""

    def claim(self, now: float, limit: int, lease_seconds: float, owner: str,
              ids: Iterable[str] | None = None) -> list[Notification]:
        """Leases each candidate with a conditional merge on the etag it was read with. By ids (the
        queue trigger; a message names up to IDS_PER_MESSAGE), the due ones are found concurrently
        (a notification this process created is not read: its create's answer is used), the
        earliest `limit` of them leased concurrently; a lease on a created one that changed since
        (412) reads it and tries once more. A lease that fails with an error leaves its notification
        to the sweep when others were leased (they are sent now, not held until the message's retry);
        when none was, the error is raised (the message is retried)."""
        if limit <= 0:
            return []
        until = float(now + lease_seconds)
        if ids is not None:
            found = self._parallel([lambda i=i: self._due_by_id(i, now) for i in dict.fromkeys(ids)])
            due = sorted((e for e in found if e is not None), key=lambda e: float(e["next_attempt_at"]))[:limit]
            got = self._parallel([lambda e=e: self._lease_found(e, now, owner, until) for e in due], errors=True)
            claimed = [n for n in got if isinstance(n, Notification)]
            failed = [x for x in got if isinstance(x, Exception)]
            if failed and not claimed:
                raise failed[0]
            if failed:
                log.warning("%d of %d leases failed (%s, status %s); the sweep takes those notifications",
                            len(failed), len(due), type(failed[0]).__name__, getattr(failed[0], "status_code", None))
            return sorted(claimed, key=lambda n: n.next_attempt_at)
        scan = self.notifications.query_entities(_DUE, parameters={"now": float(now)})
        candidates = list(itertools.islice(scan, max(4 * limit, 200)))
        random.shuffle(candidates)  # racing claimers start at different ones among equally due
        candidates.sort(key=lambda e: float(e["next_attempt_at"]))
        claimed = []
        for e in candidates:
            if len(claimed) >= limit:
                break
            etag = self._lease(e, owner, until)
            if etag is False:
                continue  # another dispatcher got it first (or it was purged, or is not due any more)
            self._take_created(e["id"])  # leased by a scan: what intake remembered of it is stale
            claimed.append(self._leased(e, owner, until, etag))
        return sorted(claimed, key=lambda n: n.next_attempt_at)

    def _due_by_id(self, nid: str, now: float):
        """The notification's entity if it is due: as this process created it, else read."""
        made = self._take_created(nid)
        e = made if made is not None and _due(made, now) else self._entity(self.notifications, _h(nid), NOTIFICATION_RK)
        return e if e is not None and _due(e, now) else None

    def _lease_found(self, e, now: float, owner: str, until: float) -> Notification | None:
        etag = self._lease(e, owner, until)
        if etag is False and isinstance(e, _Made):  # changed since we made it: read it, try once more
            e = self._entity(self.notifications, e["PartitionKey"], NOTIFICATION_RK)
            etag = self._lease(e, owner, until) if e is not None and _due(e, now) else False
        return None if etag is False else self._leased(e, owner, until, etag)

    def _leased(self, e, owner: str, until: float, etag: str | None) -> Notification:
        n = _to_n(e)
        n.lease_owner, n.lease_until = owner, until
        if etag:
            self._remember_lease(n.id, owner, etag, n.attempts, _history_count(e))
        return n

    def _lease(self, e, owner: str, until: float) -> str | None | bool:
        """Lease the entity as read (If-Match its etag): the new etag (None if the answer gave none),
        or False when it changed since."""
        try:
            done = self.notifications.update_entity(
                {"PartitionKey": e["PartitionKey"], "RowKey": e["RowKey"], "lease_owner": owner, "lease_until": until},
                mode=UpdateMode.MERGE, etag=e.metadata["etag"], match_condition=MatchConditions.IfNotModified)
        except (ResourceNotFoundError, ResourceModifiedError):
            return False
        except HttpResponseError as exc:
            if _conflict(exc):
                return False
            raise
        return done.get("etag") if isinstance(done, dict) else None

    LEASES_KEPT = 10_000  # claimed and not yet finished, per process (a pass claims at most a batch)
    CREATED_KEPT = 2_000  # made by this process's intake and not yet claimed by id (the queue trigger
    # comes within seconds; a notification held, or claimed by a scan, ages out)

    def _remember_created(self, entity: dict, etag: str | None) -> None:
        if not etag:
            return
        with self._leases_lock:
            self._created[entity["id"]] = _Made(entity, etag)
            while len(self._created) > self.CREATED_KEPT:
                self._created.popitem(last=False)

    def _take_created(self, nid: str) -> "_Made | None":
        with self._leases_lock:
            return self._created.pop(nid, None)

    def _remember_lease(self, nid: str, owner: str, etag: str, attempts: int, history: int) -> None:
        with self._leases_lock:
            self._leases[(nid, owner)] = (etag, attempts, history)
            while len(self._leases) > self.LEASES_KEPT:
                self._leases.popitem(last=False)

    def _take_lease(self, nid: str, owner: str) -> tuple[str, int, int] | None:
        with self._leases_lock:
            return self._leases.pop((nid, owner), None)

    def _result_entity(self, n: Notification, attempts: int, history: int, attempt: Attempt, status: Status,
                       next_attempt_at: float, now: float) -> tuple[dict, bool]:
        """The merge that records an attempt's result, with the attempt itself in the row when it
        fits (True: it does; else it gets a row of the attempts table)."""
        entity = {"PartitionKey": _h(n.id), "RowKey": NOTIFICATION_RK, "status": status, "attempts": attempts + 1,
                  "updated_at": float(now), "next_attempt_at": float(next_attempt_at), "lease_owner": "",
                  "lease_until": 0.0, "last_detail": _clip(attempt.detail)}
        return entity, _history_in_row(entity, history, attempt)

    def finish(self, n: Notification, owner: str, attempt: Attempt, status: Status, next_attempt_at: float,
               now: float) -> bool:
        """The attempt's result, only while `owner` holds the lease: one conditional merge that holds
        the attempt too (the first HISTORY_IN_ROW attempts; later ones, and a detail too long for the
        row, get a row of the attempts table after the merge)."""
        if not owner:
            return False
        lease = self._take_lease(n.id, owner)
        if lease is not None:  # unchanged since our claim (same etag): still ours, no need to read it back
            etag, attempts, history = lease
            entity, in_row = self._result_entity(n, attempts, history, attempt, status, next_attempt_at, now)
            try:
                self.notifications.update_entity(entity, mode=UpdateMode.MERGE, etag=etag,
                                                 match_condition=MatchConditions.IfNotModified)
                if not in_row:
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
            entity, in_row = self._result_entity(n, int(e.get("attempts", 0)), _history_count(e), attempt,
                                                 status, next_attempt_at, now)
            try:
                self.notifications.update_entity(entity, mode=UpdateMode.MERGE, etag=e.metadata["etag"],
                                                 match_condition=MatchConditions.IfNotModified)
                break
            except ResourceNotFoundError:
                return False
            except HttpResponseError as exc:
                if not _conflict(exc):
                    raise
        else:
            return False
        if not in_row:
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
        """The attempts kept in the notification's row, and those in the attempts table (rows of
        notifications made before history was kept in the row, attempts past HISTORY_IN_ROW)."""
        e = self._entity(self.notifications, _h(notification_id), NOTIFICATION_RK)
        found = _history_of(e) if e is not None else []
        if e is None or _history_rows(e):
            rows = self.attempts.query_entities("PartitionKey eq @pk", parameters={"pk": _h(notification_id)})
            found += [_to_attempt(r) for r in rows]
        return sorted(found, key=lambda a: (a.at, a.number))


class _Made(dict):
    """A notification entity as this process's intake created it, with the etag the create answered."""

    def __init__(self, entity: dict, etag: str):
        super().__init__(entity)
        self.metadata = {"etag": etag}


def _due(e, now: float) -> bool:
    return e.get("status") == "pending" and float(e["next_attempt_at"]) <= now and float(e["lease_until"]) <= now
