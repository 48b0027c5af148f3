"""The SQLite store's console queries: the event list (its index built from the stored events by
`flush_index`, then read newest first), an event's notifications, each channel's last activity."""

from __future__ import annotations

import sqlite3

from ...model import Event
from ..records import ChannelActivity, EventFilter, EventPage, Notification, page_cursor, parse_cursor
from .connection import Connections
from .outbox import _N_SELECT, _n

# Filters in the order they drive the event-list query: the most selective first.
_INDEX_ORDER = ("label", "role", "kind", "source", "severity")


class SqliteConsoleQueries(Connections):
    """The ConsoleQueries role on the event_index table and the outbox."""

    INDEX_STEP = 250  # events indexed per transaction (about 20 ms): other writers wait no longer

    def flush_index(self, limit: int | None = None) -> int:
        """Build the event list's index rows for the events taken in since the last flush (at most
        `limit` of them, oldest first); returns how many events. Intake writes no index rows (30 or
        so scattered B-tree rows an event cost a fifth of its throughput): the dispatcher flushes at
        most once a second, the event list and purge fully before they read.
        The rows are made by SQLite from the stored events (their labels through json_each), in
        key order, INDEX_STEP events a transaction: after a big batch the catch-up holds the write
        lock (and an intake request waiting on it) no more than one step at a time."""
        done = 0
        while limit is None or done < limit:
            step = self.INDEX_STEP if limit is None else min(self.INDEX_STEP, limit - done)
            n = self._flush_index_step(step)
            done += n
            if n < step:
                break
        return done

    def _flush_index_step(self, limit: int) -> int:
        c = self._conn()
        done = self._index_done(c)
        if c.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0] <= done:
            return 0
        with self._tx() as c:  # writers are serialised, so rowids are handed out in commit order
            done = self._index_done(c)
            top = c.execute("SELECT COALESCE(MAX(rowid), 0) FROM (SELECT rowid FROM events WHERE "
                            "rowid > ? ORDER BY rowid LIMIT ?)", (done, limit)).fetchone()[0]
            if top <= done:
                return 0
            c.execute(_INDEX_SQL, {"done": done, "top": top})
            c.execute("UPDATE event_index_done SET last_rowid = ? WHERE id = 0", (top,))
            return c.execute("SELECT COUNT(*) FROM events WHERE rowid > ? AND rowid <= ?", (done, top)).fetchone()[0]

    @staticmethod
    def _index_done(c: sqlite3.Connection) -> int:
        row = c.execute("SELECT last_rowid FROM event_index_done WHERE id = 0").fetchone()
        return row[0] if row else 0

    def list_events(self, filters: EventFilter, cursor: str = "", limit: int = 50) -> EventPage:
        """Newest first. The most selective filter drives an index scan; each other one is a
        primary-key probe of the same index for the same event."""
        self.flush_index()
        conds = _index_conditions(filters)
        params: list = []
        if conds:
            (k0, v0), rest = conds[0], conds[1:]
            sql = "SELECT i0.received_at, i0.event_id FROM event_index i0 WHERE i0.key = ? AND i0.value = ?"
            params += [k0, v0]
            for j, (k, v) in enumerate(rest, 1):
                sql += (f" AND EXISTS (SELECT 1 FROM event_index i{j} WHERE i{j}.key = ? AND i{j}.value = ?"
                        f" AND i{j}.received_at = i0.received_at AND i{j}.event_id = i0.event_id)")
                params += [k, v]
            at, eid = "i0.received_at", "i0.event_id"
        else:
            sql, at, eid = "SELECT received_at, id FROM events WHERE 1", "received_at", "id"
        if filters.since is not None:
            sql += f" AND {at} >= ?"
            params.append(filters.since)
        if filters.until is not None:
            sql += f" AND {at} < ?"
            params.append(filters.until)
        after = parse_cursor(cursor)
        if after is not None:
            sql += f" AND ({at}, {eid}) < (?, ?)"
            params += list(after)
        sql += f" ORDER BY {at} DESC, {eid} DESC LIMIT ?"
        params.append(max(1, limit) + 1)
        c = self._conn()
        keys = c.execute(sql, params).fetchall()
        more, keys = len(keys) > limit, keys[:limit]
        bodies = {}
        ids = [k[1] for k in keys]
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            bodies.update(c.execute(f"SELECT id, body FROM events WHERE id IN ({', '.join('?' * len(chunk))})",
                                    chunk).fetchall())
        events = [(Event.model_validate_json(bodies[eid]), at) for at, eid in keys if eid in bodies]
        return EventPage(events, page_cursor(*keys[-1]) if more and keys else "")

    def channel_activity(self) -> dict[str, ChannelActivity]:
        """Per channel, the last delivered attempt and the last failed one (with its detail)."""
        c = self._conn()
        out: dict[str, ChannelActivity] = {}
        rows = c.execute("SELECT n.channel, CASE a.status WHEN 'delivered' THEN 'ok' ELSE 'failed' END AS outcome, "
                         "MAX(a.at) FROM attempts a JOIN notifications n ON n.id = a.notification_id "
                         "WHERE a.status IN ('delivered', 'retry', 'failed') GROUP BY n.channel, outcome").fetchall()
        for channel, outcome, at in rows:
            act = out.setdefault(channel, ChannelActivity(channel))
            if outcome == "ok":
                act.last_success = at
            else:
                act.last_failure = at
                row = c.execute("SELECT a.detail FROM attempts a JOIN notifications n ON n.id = a.notification_id "
                                "WHERE n.channel = ? AND a.at = ? AND a.status IN ('retry', 'failed') LIMIT 1",
                                (channel, at)).fetchone()
                act.last_failure_detail = row[0] if row else ""
        return out

    def notifications_for(self, event_id: str) -> list[Notification]:
        rows = self._conn().execute(f"SELECT {_N_SELECT} FROM notifications WHERE event_id = ? ORDER BY id",
                                    (event_id,)).fetchall()
        return [_n(r) for r in rows]


# One event list index row per (field or label, value) of each event in (done, top]: its source, kind
# and severity, the roles its notifications went to, and its labels (read from the stored body).
_INDEX_SQL = """
INSERT OR IGNORE INTO event_index (key, value, received_at, event_id)
SELECT key, value, received_at, event_id FROM (
    SELECT 'source' AS key, source AS value, received_at, id AS event_id FROM events
        WHERE rowid > :done AND rowid <= :top
    UNION ALL SELECT 'kind', kind, received_at, id FROM events WHERE rowid > :done AND rowid <= :top
    UNION ALL SELECT 'severity', severity, received_at, id FROM events WHERE rowid > :done AND rowid <= :top
    UNION ALL SELECT DISTINCT 'role', n.role, e.received_at, e.id FROM events e JOIN notifications n
        ON n.event_id = e.id WHERE e.rowid > :done AND e.rowid <= :top
    UNION ALL SELECT 'label:' || j.key, j.value, e.received_at, e.id FROM events e, json_each(e.body, '$.labels') j
        WHERE e.rowid > :done AND e.rowid <= :top
) ORDER BY key, value, received_at, event_id
"""

def _index_conditions(f: EventFilter) -> list[tuple[str, str]]:
    found = {"label": [(f"label:{k}", v) for k, v in f.labels], "role": [("role", f.role)] if f.role else [],
             "kind": [("kind", f.kind)] if f.kind else [], "source": [("source", f.source)] if f.source else [],
             "severity": [("severity", f.severity)] if f.severity else []}
    return [c for name in _INDEX_ORDER for c in found[name]]
