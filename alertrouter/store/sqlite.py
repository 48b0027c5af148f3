"""SQLite store (the embedded default): events taken in and each delivery's result.

WAL mode, one connection per thread, a busy timeout so several threads or processes on one
machine can share the file. The event id is the primary key: a redelivered event is recognised
and not routed twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path

from ..model import Event

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL,
    time TEXT NOT NULL,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    title TEXT NOT NULL,
    labels TEXT NOT NULL,
    raw TEXT
);
CREATE INDEX IF NOT EXISTS events_time ON events(time);
CREATE INDEX IF NOT EXISTS events_fingerprint ON events(fingerprint);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    route TEXT NOT NULL,
    role TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries(event_id);
"""


class SqliteStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as c:
            c.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def add_event(self, event: Event, received: datetime | None = None) -> bool:
        """Store the event; False when its id was already taken in (a redelivery)."""
        received = received or datetime.now(timezone.utc)
        cur = self._conn().execute(
            "INSERT OR IGNORE INTO events (id, received_at, time, source, kind, severity, fingerprint, title, labels, raw)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event.id, received.isoformat(), event.time.isoformat(), event.source, event.kind,
             event.severity.value, event.fingerprint, event.title,
             json.dumps(event.labels, sort_keys=True), json.dumps(event.raw, default=str)),
        )
        return cur.rowcount == 1

    def first_time(self, fingerprint: str, kind: str) -> datetime | None:
        """When the earliest event of `kind` with this fingerprint happened (a run's start)."""
        row = self._conn().execute(
            "SELECT MIN(time) FROM events WHERE fingerprint = ? AND kind = ?", (fingerprint, kind)
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def record_delivery(self, event_id: str, route: str, role: str, channel: str, status: str, detail: str) -> None:
        self._conn().execute(
            "INSERT INTO deliveries (event_id, route, role, channel, status, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (event_id, route, role, channel, status, detail, datetime.now(timezone.utc).isoformat()),
        )

    def deliveries(self, event_id: str) -> list[dict]:
        rows = self._conn().execute(
            "SELECT route, role, channel, status, detail, at FROM deliveries WHERE event_id = ? ORDER BY seq",
            (event_id,),
        ).fetchall()
        return [dict(zip(("route", "role", "channel", "status", "detail", "at"), r)) for r in rows]

    def counts(self) -> dict[str, int]:
        c = self._conn()
        return {
            "events": c.execute("SELECT COUNT(*) FROM events").fetchone()[0],
            "deliveries": c.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0],
        }

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
