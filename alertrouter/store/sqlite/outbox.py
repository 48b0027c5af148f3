"""The SQLite store's outbox: claiming, finishing, deferring and releasing notifications, their
history, re-driving, purging, and the counts by status."""

from __future__ import annotations

import sqlite3
from typing import Iterable

from ..records import Attempt, Notification, Status
from .connection import Connections

_N_COLS = ("id", "event_id", "route", "role", "channel", "fallback_from", "status", "attempts", "created_at",
           "updated_at", "next_attempt_at", "lease_owner", "lease_until", "last_detail")
_N_SELECT = ", ".join(_N_COLS)


def _n(row) -> Notification:
    return Notification(**dict(zip(_N_COLS, row)))


_STATUSES = ("pending", "sent", "dead", "held")
_COUNTS_SQL = "SELECT (SELECT COUNT(*) FROM events), " + ", ".join(
    f"(SELECT COUNT(*) FROM notifications WHERE status = '{s}')" for s in _STATUSES)


class SqliteOutbox(Connections):
    """The Outbox role on the notifications and attempts tables."""

    def claim(self, now: float, limit: int, lease_seconds: float, owner: str,
              ids: Iterable[str] | None = None) -> list[Notification]:
        due = "status = 'pending' AND next_attempt_at <= ? AND lease_until <= ?"
        params: list = [now, now]
        if ids is not None:
            ids = list(ids)
            if not ids:
                return []
            due += f" AND id IN ({', '.join('?' * len(ids))})"
            params += ids
        # a read first: most passes find nothing due, and a read takes no write lock
        if not self._conn().execute(f"SELECT 1 FROM notifications WHERE {due} LIMIT 1", params).fetchone():
            return []
        with self._tx() as c:
            rows = c.execute(
                f"UPDATE notifications SET lease_owner = ?, lease_until = ? WHERE id IN "
                f"(SELECT id FROM notifications WHERE {due} ORDER BY next_attempt_at LIMIT ?) RETURNING {_N_SELECT}",
                [owner, now + lease_seconds, *params, limit],
            ).fetchall()
        return sorted((_n(r) for r in rows), key=lambda n: n.next_attempt_at)

    def finish(self, n: Notification, owner: str, attempt: Attempt, status: Status, next_attempt_at: float,
               now: float) -> bool:
        with self._tx() as c:
            cur = c.execute(
                "UPDATE notifications SET status = ?, attempts = attempts + 1, updated_at = ?, next_attempt_at = ?,"
                " lease_owner = '', lease_until = 0, last_detail = ? WHERE id = ? AND lease_owner = ?",
                (status, now, next_attempt_at, attempt.detail, n.id, owner),
            )
            if cur.rowcount != 1:
                return False
            c.execute("INSERT INTO attempts (notification_id, number, at, status, detail, retry_after)"
                      " VALUES (?, ?, ?, ?, ?, ?)",
                      (n.id, attempt.number, attempt.at, attempt.status, attempt.detail, attempt.retry_after))
        return True

    def defer(self, notification_id: str, owner: str, until: float, detail: str, now: float) -> bool:
        """Hand a claimed notification back, due at `until`, without spending an attempt."""
        with self._tx() as c:
            cur = c.execute("UPDATE notifications SET lease_owner = '', lease_until = 0, next_attempt_at = ?, "
                            "updated_at = ?, last_detail = ? WHERE id = ? AND lease_owner = ?",
                            (until, now, detail, notification_id, owner))
        return cur.rowcount == 1

    def release(self, ids: Iterable[str], owner: str) -> None:
        ids = list(ids)
        if not ids:
            return
        with self._tx() as c:
            c.execute(f"UPDATE notifications SET lease_owner = '', lease_until = 0 WHERE lease_owner = ? "
                      f"AND id IN ({', '.join('?' * len(ids))})", [owner, *ids])

    def get(self, notification_id: str) -> Notification | None:
        row = self._conn().execute(f"SELECT {_N_SELECT} FROM notifications WHERE id = ?",
                                   (notification_id,)).fetchone()
        return _n(row) if row else None

    def list(self, status: Status | None = None, limit: int = 100) -> list[Notification]:
        if status:
            rows = self._conn().execute(f"SELECT {_N_SELECT} FROM notifications WHERE status = ? "
                                        "ORDER BY created_at DESC, id LIMIT ?", (status, limit))
        else:
            rows = self._conn().execute(f"SELECT {_N_SELECT} FROM notifications ORDER BY created_at DESC, id "
                                        "LIMIT ?", (limit,))
        return [_n(r) for r in rows.fetchall()]

    def made_between(self, start: float, end: float) -> list[Notification]:
        rows = self._conn().execute(f"SELECT {_N_SELECT} FROM notifications WHERE created_at >= ? AND created_at < ? "
                                    "ORDER BY created_at, id", (start, end))
        return [_n(r) for r in rows.fetchall()]

    def history(self, notification_id: str) -> list[Attempt]:
        rows = self._conn().execute(
            "SELECT notification_id, number, at, status, detail, retry_after FROM attempts WHERE notification_id = ?"
            " ORDER BY at, number", (notification_id,)).fetchall()
        return [Attempt(*r) for r in rows]

    def redrive(self, ids: Iterable[str] | None, now: float) -> list[str]:
        """Dead (or given) notifications become pending again, due now, with a fresh attempt budget."""
        with self._tx() as c:
            if ids is None:
                targets = [r[0] for r in c.execute("SELECT id FROM notifications WHERE status = 'dead'")]
            else:
                ids = list(ids)
                targets = [r[0] for r in c.execute(
                    f"SELECT id FROM notifications WHERE status != 'pending' AND id IN ({', '.join('?' * len(ids))})",
                    ids)] if ids else []
            for nid in targets:
                c.execute("UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = ?, "
                          "updated_at = ?, lease_owner = '', lease_until = 0 WHERE id = ?", (now, now, nid))
                c.execute("INSERT INTO attempts (notification_id, number, at, status, detail, retry_after)"
                          " VALUES (?, 0, ?, 'redriven', 're-driven by an operator', NULL)", (nid, now))
        return targets

    def purge(self, older_than: float) -> int:
        """Delete sent, dead and held notifications (and their history) last updated before `older_than`,
        and events older than that with no notification left."""
        self.flush_index()
        with self._tx() as c:
            ids = [r[0] for r in c.execute("SELECT id FROM notifications WHERE status IN ('sent', 'dead', 'held') "
                                           "AND updated_at < ?", (older_than,))]
            for nid in ids:
                c.execute("DELETE FROM attempts WHERE notification_id = ?", (nid,))
                c.execute("DELETE FROM notifications WHERE id = ?", (nid,))
            c.execute("DELETE FROM events WHERE received_at < ? AND id NOT IN (SELECT event_id FROM notifications)",
                      (older_than,))
            c.execute("DELETE FROM event_index WHERE received_at < ? AND event_id NOT IN (SELECT id FROM events)",
                      (older_than,))
            c.execute("DELETE FROM duplicates WHERE event_id NOT IN (SELECT id FROM events)")
            # the next event takes the highest rowid left + 1: never leave the mark above it
            c.execute("UPDATE event_index_done SET last_rowid = MIN(last_rowid, "
                      "(SELECT COALESCE(MAX(rowid), 0) FROM events)) WHERE id = 0")
        return len(ids)

    def next_due(self) -> float | None:
        row = self._conn().execute("SELECT MIN(MAX(next_attempt_at, lease_until)) FROM notifications "
                                   "WHERE status = 'pending'").fetchone()
        return row[0] if row else None

    def oldest_pending(self) -> float | None:
        """When the oldest pending notification was created (epoch seconds), or None."""
        row = self._conn().execute("SELECT MIN(created_at) FROM notifications WHERE status = 'pending'").fetchone()
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        """Events and notifications by status, in one statement: a reader takes no lock (WAL), and one
        statement gives the interpreter back once, not ten times, while a big batch is taken in.
        Through one connection of its own, whichever thread asks: the counts read every page of two
        indexes, and a connection per server thread each kept its own 2 MB page cache of them
        (/api/health polled from 40 threads held 56 MB more after a 33,000-event batch)."""
        if not self._shared:  # in memory: a second connection would be another, empty, database
            return dict(zip(("events", *_STATUSES), self._conn().execute(_COUNTS_SQL).fetchone()))
        with self._counts_lock:
            if self._counts_conn is None:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA busy_timeout=30000")
                with self._all_lock:
                    self._all.append(conn)
                self._counts_conn = conn
            row = self._counts_conn.execute(_COUNTS_SQL).fetchone()
        return dict(zip(("events", *_STATUSES), row))
