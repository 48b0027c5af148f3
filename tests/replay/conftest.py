"""The seeded month recorded through the real App on each store (SQLite, and Azure on Azurite
through tests/store's fixtures): events taken in one by one on an injected clock set to each
event's time, the periodic pass run on that clock whenever something falls due, and the people's
silences made (and one expired) at their moments."""

from __future__ import annotations

import pytest

from alertrouter.app import App
from alertrouter.model import Event
from alertrouter.pipeline import silences
from alertrouter.replay.engine import Clock, EventTimeDriver
from alertrouter.store.sqlite import SqliteStore
from tests.replay.configs import config
from tests.replay.month import END, Month, month
from tests.store import conftest as store_conftest
from tests.store.azurite import Azurite, missing_reason
from tests.store.conftest import (ROOT, STORE_FIXTURES, azure_settings, azure_store, memory_store,  # noqa: F401
                                  sqlite_store)


def record(store, m: Month, data_dir, loaded=None) -> None:
    """Take the month in through the real App on `store`, as the server would have."""
    clock = Clock()
    app = App(loaded or config(), data_dir, store=store, clock=clock)
    driver = EventTimeDriver(app, clock)
    actions = [(e.time.timestamp(), 1, e) for e in m.events]
    actions += [(s.at, 0, s) for s in m.silences]
    expiries = []
    for at, _, what in sorted(actions, key=lambda a: (a[0], a[1])):
        for due, sid in [x for x in expiries if x[0] <= at]:
            driver.advance(due)
            clock.t = max(clock.t, due)
            silences.expire(store, sid, clock.t)
            expiries.remove((due, sid))
        if isinstance(what, Event):
            driver.feed(what)
            continue
        driver.advance(at)
        clock.t = max(clock.t, at)
        s = silences.create(store, matchers=what.matchers, starts_at=at, ends_at=at + what.hours * 3600,
                            created_by="ana", comment=what.comment, now=at)
        if what.expire_after_hours is not None:
            expiries.append((at + what.expire_after_hours * 3600, s.id))
    driver.advance(END.timestamp() - 1e-6)


@pytest.fixture(scope="session")
def azurite():
    """tests/store's Azurite for the session: the one its conftest started when it is there, else
    one of ours, stopped at the end unless tests/store's fixture stopped it first."""
    reason = missing_reason(ROOT)
    if reason:
        pytest.skip(reason)
    ours = None
    if store_conftest._azurite is None:
        ours = store_conftest._azurite = Azurite(ROOT).spawn()
    yield store_conftest._azurite.wait()
    if ours is not None and store_conftest._azurite is ours:
        ours.stop()
        store_conftest._azurite = None


@pytest.fixture(params=STORE_FIXTURES)
def store(request):
    """Each store in turn: SQLite, the Azure store on Azurite, and the in-memory one."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def the_month() -> Month:
    return month()


@pytest.fixture(scope="session")
def recorded_sqlite(tmp_path_factory, the_month):
    """One SQLite store with the month recorded, shared by the read-only table tests."""
    path = tmp_path_factory.mktemp("replay") / "alertrouter.db"
    s = SqliteStore(path)
    record(s, the_month, path.parent)
    yield s
    s.close()
