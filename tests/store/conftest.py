"""Store factories for the contract suite. Each yields a fresh, empty store: SQLite on a file, Azure
on Azurite, and the in-memory store the replay simulates on.

The Azure store runs against Azurite (npm devDependency, `npm ci`), started once per session on
free loopback ports; each test gets its own tables and queue. Without node_modules the Azure
variants are skipped with the reason, never failed.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from alertrouter.settings import AzureStorage
from alertrouter.store.memory import MemoryStore
from alertrouter.store.sqlite import SqliteStore
from tests.store.azurite import Azurite, missing_reason

ROOT = Path(__file__).resolve().parents[2]
AZURE_FIXTURES = {"azurite", "azure_settings", "azure_store"}
_azurite: Azurite | None = None


def _needs_azurite(item) -> bool:
    callspec = getattr(item, "callspec", None)
    params = set(map(str, callspec.params.values())) if callspec is not None else set()
    return bool(AZURE_FIXTURES & (set(getattr(item, "fixturenames", ())) | params))


@pytest.hookimpl(trylast=True)  # after -k / -m deselection
def pytest_collection_modifyitems(session, config, items):
    """Start Azurite in the background as soon as the run is known to need it, so its start-up
    overlaps the tests that run before the Azure ones."""
    global _azurite
    if _azurite is None and missing_reason(ROOT) is None and any(_needs_azurite(i) for i in items):
        _azurite = Azurite(ROOT).spawn()


def pytest_unconfigure(config):
    global _azurite
    if _azurite is not None:
        _azurite.stop()
        _azurite = None


@pytest.fixture
def sqlite_store(tmp_path):
    store = SqliteStore(tmp_path / "store.db")
    yield store
    store.close()


@pytest.fixture(scope="session")
def azurite():
    """Azurite's table and queue services for the session (skipped, not failed, without npm ci)."""
    global _azurite
    reason = missing_reason(ROOT)
    if reason:
        pytest.skip(reason)
    if _azurite is None:
        _azurite = Azurite(ROOT).spawn()
    yield _azurite.wait()
    _azurite.stop()
    _azurite = None


@pytest.fixture
def azure_settings(azurite) -> AzureStorage:
    """Settings for a fresh store: its own table prefix and queue on the session's Azurite."""
    tag = uuid.uuid4().hex[:12]
    return AzureStorage(connection_string=azurite.connection_string, table_prefix=f"t{tag}",
                        queue_name=f"q-{tag}")


@pytest.fixture
def azure_store(azure_settings):
    from alertrouter.store.azure import AzureStore

    store = AzureStore.from_settings(azure_settings, retry_total=1)
    yield store
    store.close()  # its tables go with Azurite's in-memory storage at the end of the session


@pytest.fixture
def memory_store():
    store = MemoryStore()
    yield store
    store.close()


STORE_FIXTURES = ["sqlite_store", "azure_store", "memory_store"]


@pytest.fixture(params=STORE_FIXTURES)
def store(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def reopen(request, store):
    """Opens a second instance on the storage `store` uses (its SQLite file; its tables and queue on
    Azurite), as a restart or another process would; each is closed at the end of the test."""
    opened = []

    def open_again():
        if request.node.callspec.params["store"] == "sqlite_store":
            again = SqliteStore(store.path)
        elif request.node.callspec.params["store"] == "memory_store":
            again = MemoryStore(store.data)  # the same data, as the same process would open it again
        else:
            from alertrouter.store.azure import AzureStore

            again = AzureStore.from_settings(request.getfixturevalue("azure_settings"), retry_total=1)
        opened.append(again)
        return again

    yield open_again
    for again in opened:
        again.close()
