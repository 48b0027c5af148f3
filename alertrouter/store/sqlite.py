"""SQLite store (the embedded default): events, the outbox, and each attempt's history.

WAL mode, one connection per thread, `BEGIN IMMEDIATE` around every read-modify-write, and a busy
timeout, so several threads or processes on one machine share the file safely. Times are epoch
seconds (REAL) so they sort and compare exactly.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable

from ..model import Event
from .records import (Attempt, ChannelActivity, EventFilter, EventPage, IngestOutcome, Notification, Status,
                      page_cursor, parse_cursor)

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    received_at REAL NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_fingerprint_kind ON events(fingerprint, kind);
DROP INDEX IF EXISTS events_received;  -- events_received_id (received_at, id) below serves its queries
CREATE TABLE IF NOT EXISTS notifications (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    route TEXT NOT NULL,
    role TEXT NOT NULL,
    channel TEXT NOT NULL,
    fallback_from TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_until REAL NOT NULL DEFAULT 0,
    last_detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS notifications_event ON notifications(event_id);
CREATE TABLE IF NOT EXISTS state (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS attempts (
    notification_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    at REAL NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    retry_after REAL,
    PRIMARY KEY (notification_id, number, at)
);
-- the console's event list: one row per (field or label, value) of each event, newest first per value
CREATE TABLE IF NOT EXISTS event_index (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    received_at REAL NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (key, value, received_at, event_id)
) WITHOUT ROWID;
-- redeliveries of an event already taken in: acknowledged and dropped, kept for the console's trail
CREATE TABLE IF NOT EXISTS duplicates (
    event_id TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS duplicates_event ON duplicates(event_id, at);
-- how far the event list's index has been built: events up to this rowid have their rows in
-- event_index (intake writes none; see flush_index)
CREATE TABLE IF NOT EXISTS event_index_done (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    last_rowid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_received_id ON events(received_at, id);
CREATE INDEX IF NOT EXISTS attempts_at ON attempts(at);
"""
SCHEMA_VERSION = 2  # PRAGMA user_version: 2 = event_index built from events by flush_index, up to event_index_done

# Filters in the order they drive the event-list query: the most selective first.
_INDEX_ORDER = ("label", "role", "kind", "source", "severity")

_N_COLS = ("id", "event_id", "route", "role", "channel", "fallback_from", "status", "attempts", "created_at",
           "updated_at", "next_attempt_at", "lease_owner", "lease_until", "last_detail")
_N_SELECT = ", ".join(_N_COLS)


def _n(row) -> Notification:
    return Notification(**dict(zip(_N_COLS, row)))


def _owner_only(path: Path) -> None:
    """The database and its -wal and -shm files (the WAL holds payloads and acknowledge tokens) are
    readable by their owner only: the database is created with mode 0600 before SQLite opens it
    (SQLite gives the -wal and -shm it creates the database's mode), and files an older version made
    readable by others are tightened."""
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.lock")):
        try:
            if p.stat().st_mode & 0o077:
                p.chmod(0o600)
        except (FileNotFoundError, PermissionError):  # not there yet; not ours to change
            pass


class SqliteStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._shared = str(path) != ":memory:"  # a file other processes may open (an in-memory one needs no lock file)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._write = threading.RLock()
        # writers in other processes (the delivery process, the CLI) queue on this lock file rather than
        # in SQLite's busy handler, which sleeps in steps of up to 100 ms
        self._lock_fd: int | None = None
        if self._shared:
            _owner_only(self.path)
        self._counts_conn: sqlite3.Connection | None = None  # see counts()
        self._counts_lock = threading.Lock()
        self._conn().executescript(SCHEMA)
        self._migrate()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def _tx(self):
        """One write transaction. Nested ones join the outer one (one commit for a whole intake
        request); writers in this process queue on a lock instead of SQLite's sleeping busy wait."""
        c = self._conn()
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield c
            finally:
                self._local.depth -= 1
            return
        with self._write:
            if self._lock_fd is None and self._shared:
                self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            if self._lock_fd is not None:  # other processes on this file: woken at once on release
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                c.execute("BEGIN IMMEDIATE")
                self._local.depth = 1
                try:
                    yield c
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
                c.execute("COMMIT")
            finally:
                self._local.depth = 0
                if self._lock_fd is not None:
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def transaction(self):
        """Group several writes (and the reads between them) into one transaction."""
        return self._tx()

    # --- intake ---

    def ingest(self, items: list[tuple[Event, list[Notification]]], now: float) -> list[IngestOutcome]:
        """Each event with its notifications, in one transaction; an event id seen before adds nothing."""
        out: list[IngestOutcome] = []
        with self._tx() as c:
            for event, notifications in items:
                cur = c.execute(
                    "INSERT OR IGNORE INTO events (id, received_at, time, source, kind, severity, fingerprint, body)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (event.id, now, event.time.isoformat(), event.source, event.kind, event.severity.value,
                     event.fingerprint, event.model_dump_json()),
                )
                if cur.rowcount != 1:
                    c.execute("INSERT INTO duplicates (event_id, at) VALUES (?, ?)", (event.id, now))
                    out.append(IngestOutcome(new=False))
                    continue
                created = []
                for n in notifications:
                    n.created_at = n.updated_at = now
                    n.next_attempt_at = n.next_attempt_at or now
                    cur = c.execute(
                        f"INSERT OR IGNORE INTO notifications ({_N_SELECT}) VALUES ({', '.join('?' * len(_N_COLS))})",
                        tuple(getattr(n, k) for k in _N_COLS),
                    )
                    if cur.rowcount == 1:
                        created.append(n)
                out.append(IngestOutcome(new=True, notifications=created))
        return out

    def get_event(self, event_id: str) -> Event | None:
        row = self._conn().execute("SELECT body FROM events WHERE id = ?", (event_id,)).fetchone()
        return Event.model_validate_json(row[0]) if row else None

    def first_time(self, fingerprint: str, kind: str) -> datetime | None:
        """When the earliest event of `kind` with this fingerprint happened (a run's start)."""
        row = self._conn().execute(
            "SELECT MIN(time) FROM events WHERE fingerprint = ? AND kind = ?", (fingerprint, kind)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def events_between(self, start: datetime, end: datetime, kinds: Iterable[str] | None = None) -> list[Event]:
        """Events whose `time` is in [start, end) (aware datetimes), of `kinds` (all when None), by
        (time, id): for the digest. `time` is ISO 8601 with an offset; julianday() reads the offset,
        so the comparison is on the instant: a second of slack each side, then the exact test on
        parsed datetimes."""
        kinds = list(kinds) if kinds is not None else None
        if kinds is not None and not kinds:
            return []
        lo = (start - timedelta(seconds=1)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        hi = (end + timedelta(seconds=1)).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        sql = "SELECT body FROM events WHERE julianday(time) >= julianday(?) AND julianday(time) < julianday(?)"
        params: list = [lo, hi]
        if kinds is not None:
            sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
            params += kinds
        out = []
        for (body,) in self._conn().execute(sql, params).fetchall():
            e = Event.model_validate_json(body)
            if start <= e.time < end:
                out.append(e)
        out.sort(key=lambda e: (e.time, e.id))
        return out

    # --- the delivery queue ---

    def enqueue(self, ids: list[str], delay_seconds: float = 0) -> None:
        """Nothing to do: there is no queue in front of an embedded file. The notifications are in the
        outbox already, due at their next_attempt_at, and the dispatcher's own pass (next_due) or the
        caller delivering right after intake picks them up."""

    # --- outbox ---

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

    def notifications_for(self, event_id: str) -> list[Notification]:
        rows = self._conn().execute(f"SELECT {_N_SELECT} FROM notifications WHERE event_id = ? ORDER BY id",
                                    (event_id,)).fetchall()
        return [_n(r) for r in rows]

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

    def state_get(self, kind: str, key: str) -> tuple[dict, int] | None:
        row = self._conn().execute("SELECT value, version FROM state WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return (json.loads(row[0]), row[1]) if row else None

    def state_put(self, kind: str, key: str, value: dict, expected: int | None, now: float) -> bool:
        body = json.dumps(value, separators=(",", ":"))
        with self._tx() as c:
            if expected is None:
                cur = c.execute("INSERT OR IGNORE INTO state (kind, key, value, version, updated_at) VALUES (?, ?, ?, 1, ?)",
                                (kind, key, body, now))
            else:
                cur = c.execute("UPDATE state SET value = ?, version = version + 1, updated_at = ? "
                                "WHERE kind = ? AND key = ? AND version = ?", (body, now, kind, key, expected))
        return cur.rowcount == 1

    def state_list(self, kind: str, limit: int | None = None) -> list[tuple[str, dict, int]]:
        rows = self._conn().execute("SELECT key, value, version FROM state WHERE kind = ? ORDER BY key LIMIT ?",
                                    (kind, -1 if limit is None else limit))
        return [(k, json.loads(v), ver) for k, v, ver in rows.fetchall()]

    def state_delete(self, kind: str, key: str) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM state WHERE kind = ? AND key = ?", (kind, key))

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

    def close(self) -> None:
        with self._all_lock:
            for conn in self._all:
                try:
                    conn.close()
                except sqlite3.Error:
                    pass
            self._all.clear()
        self._local = threading.local()
        with self._counts_lock:
            self._counts_conn = None
        with self._write:
            if self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # --- the operator console ---

    def _migrate(self) -> None:
        """Bring an older file's event-list index up to this version (once per file)."""
        c = self._conn()
        if c.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        with self._tx() as c:
            version = c.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                return
            done = 0  # version 0: no event indexed yet; flush_index builds them all
            waiting = c.execute("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'event_index_new'").fetchone()[0]
            if version == 1:  # every event indexed, the latest rows still waiting in event_index_new
                if waiting:
                    c.execute("INSERT OR IGNORE INTO event_index (key, value, received_at, event_id) SELECT key, value, "
                              "received_at, event_id FROM event_index_new ORDER BY key, value, received_at, event_id")
                done = c.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0]
            c.execute("DROP TABLE IF EXISTS event_index_new")
            c.execute("INSERT OR REPLACE INTO event_index_done (id, last_rowid) VALUES (0, ?)", (done,))
            c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def duplicates_of(self, event_id: str, limit: int = 20) -> tuple[int, list[float]]:
        """How often the event was redelivered after it was taken in, and the latest `limit` times."""
        c = self._conn()
        count = c.execute("SELECT COUNT(*) FROM duplicates WHERE event_id = ?", (event_id,)).fetchone()[0]
        times = [r[0] for r in c.execute("SELECT at FROM duplicates WHERE event_id = ? ORDER BY at DESC LIMIT ?",
                                         (event_id, limit))]
        return count, times

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


_STATUSES = ("pending", "sent", "dead", "held")
_COUNTS_SQL = "SELECT (SELECT COUNT(*) FROM events), " + ", ".join(
    f"(SELECT COUNT(*) FROM notifications WHERE status = '{s}')" for s in _STATUSES)


def _index_conditions(f: EventFilter) -> list[tuple[str, str]]:
    found = {"label": [(f"label:{k}", v) for k, v in f.labels], "role": [("role", f.role)] if f.role else [],
             "kind": [("kind", f.kind)] if f.kind else [], "source": [("source", f.source)] if f.source else [],
             "severity": [("severity", f.severity)] if f.severity else []}
    return [c for name in _INDEX_ORDER for c in found[name]]


def utc_from_epoch(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)
