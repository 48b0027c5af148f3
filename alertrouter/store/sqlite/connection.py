"""The SQLite store's file and connections: the schema (and its migration), one connection per
thread, the write transaction (a lock in this process, a lock file across processes), closing.

The database and its -wal and -shm files are readable by their owner only."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path

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
-- a period's events by their instant (events_between: the digest, the noise report, replay, what-if)
CREATE INDEX IF NOT EXISTS events_instant ON events(julianday(time));
CREATE INDEX IF NOT EXISTS attempts_at ON attempts(at);
"""
SCHEMA_VERSION = 2  # PRAGMA user_version: 2 = event_index built from events by flush_index, up to event_index_done


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


class _Joined:
    """A write joining the transaction its thread has open."""

    __slots__ = ("local", "conn")

    def __init__(self, local, conn: sqlite3.Connection):
        self.local, self.conn = local, conn

    def __enter__(self) -> sqlite3.Connection:
        self.local.depth += 1
        return self.conn

    def __exit__(self, *exc) -> None:
        self.local.depth -= 1


class Connections:
    """The file, its connections and its write transaction, which the store's sections share."""

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

    def _tx(self):
        """One write transaction. Nested ones join the outer one (one commit for a whole intake
        request, a whole replay), at the cost of a counter; writers in this process queue on a lock
        instead of SQLite's sleeping busy wait."""
        if getattr(self._local, "depth", 0):
            return _Joined(self._local, self._conn())
        return self._outer_tx()

    @contextmanager
    def _outer_tx(self):
        c = self._conn()
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
