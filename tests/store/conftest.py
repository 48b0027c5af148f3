"""Store factories for the contract suite. Each yields a fresh, empty store."""

from __future__ import annotations

import pytest

from alertrouter.store.sqlite import SqliteStore


@pytest.fixture
def sqlite_store(tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    yield store
    store.close()


STORE_FIXTURES = ["sqlite_store"]


@pytest.fixture(params=STORE_FIXTURES)
def store(request):
    return request.getfixturevalue(request.param)
