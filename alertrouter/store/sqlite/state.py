"""The SQLite store's state documents: one row per (kind, key), its JSON value and its version."""

from __future__ import annotations

import json

from .connection import Connections


class SqliteStateDocuments(Connections):
    """The StateDocuments role on the state table."""

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
