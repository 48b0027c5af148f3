"""SQLite store (the embedded default): events, the outbox, and each attempt's history.

WAL mode, one connection per thread, `BEGIN IMMEDIATE` around every read-modify-write, and a busy
timeout, so several threads or processes on one machine share the file safely. Times are epoch
seconds (REAL) so they sort and compare exactly.

One section a module: connection.py (file, schema, transactions), intake.py (the event log),
outbox.py, state.py (state documents), queries.py (the console's).
"""

from __future__ import annotations

from .connection import SCHEMA, SCHEMA_VERSION
from .intake import SqliteEventLog
from .outbox import SqliteOutbox
from .queries import SqliteConsoleQueries
from .state import SqliteStateDocuments

__all__ = ["SCHEMA", "SCHEMA_VERSION", "SqliteStore"]


class SqliteStore(SqliteEventLog, SqliteOutbox, SqliteStateDocuments, SqliteConsoleQueries):
    """Every Store role on one SQLite file."""

    def enqueue(self, ids: list[str], delay_seconds: float = 0) -> None:
        """Nothing to do: there is no queue in front of an embedded file. The notifications are in the
        outbox already, due at their next_attempt_at, and the dispatcher's own pass (next_due) or the
        caller delivering right after intake picks them up."""

