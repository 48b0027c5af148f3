"""The Azure store's console queries: the event list through its index rows (a filtered scan for
events stored before the index), an event's notifications, and each channel's last activity."""

from __future__ import annotations

import json

from ...model import Event
from ..records import ChannelActivity, EventFilter, EventPage, Notification, page_cursor, parse_cursor
from .entities import BODY, LIST, LIST_END, _h, _history_of
from .tables import Tables


class AzureConsoleQueries(Tables):
    """The ConsoleQueries role: the event list's index rows and scans of the outbox and attempts."""

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
        """Per channel, the last delivered attempt and the last failed one: a scan of the outbox (the
        attempts its rows hold) and of the attempts table."""
        channel_of: dict[str, str] = {}
        kept: list[tuple[str, float, str | None, str]] = []  # (notification id, at, status, detail)
        for e in self.notifications.list_entities():
            channel_of[e["id"]] = e["channel"]
            kept += [(a.notification_id, a.at, a.status, a.detail) for a in _history_of(e)]
        kept += [(a.get("notification_id", ""), float(a["at"]), a.get("status"), a.get("detail", ""))
                 for a in self.attempts.list_entities(select=["notification_id", "at", "status", "detail"])]
        out: dict[str, ChannelActivity] = {}
        for nid, at, status, detail in kept:
            channel = channel_of.get(nid)
            if channel is None or status not in ("delivered", "retry", "failed"):
                continue
            act = out.setdefault(channel, ChannelActivity(channel))
            if status == "delivered":
                act.last_success = max(at, act.last_success or at)
            elif act.last_failure is None or at > act.last_failure:
                act.last_failure, act.last_failure_detail = at, detail
        return out

    def notifications_for(self, event_id: str) -> list[Notification]:
        found = []
        for nid in self._notification_ids(_h(event_id)):
            n = self.get(nid)
            if n is not None:
                found.append(n)
        return sorted(found, key=lambda n: n.id)

    def flush_index(self, limit: int | None = None) -> int:
        """Nothing to build: the event list scans the events table."""
        return 0
