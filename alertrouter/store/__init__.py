"""Stores behind one interface: `base.Store`, the union of the roles in roles.py (event log, outbox,
state documents, console queries, delivery queue, lifecycle), over the records in records.py.
Two implementations, each a package with a module per role: `sqlite` (embedded) and `azure`
(Tables + Queues, for scale-out)."""

from __future__ import annotations

from pathlib import Path

from .base import Store


def open_store(kind: str, data_dir: str | Path, azure=None) -> Store:
    """The store the settings name: `sqlite` in the data dir, or `azure` (Table Storage + Queues)."""
    if kind == "azure":
        from .azure import AzureStore

        return AzureStore.from_settings(azure)
    from .sqlite import SqliteStore

    return SqliteStore(Path(data_dir) / "alertrouter.db")
