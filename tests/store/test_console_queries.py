"""The console's store queries, on both stores: the filtered, paged event list and channel activity."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from alertrouter.model import Event
from alertrouter.store.base import Attempt, EventFilter, Notification
from tests.store.contract import covers

T0 = 1_800_000_000.0


def event(eid: str, kind: str = "alert.fired", severity: str = "error", source: str = "azure-monitor",
          **labels: str) -> Event:
    return Event(id=eid, source=source, kind=kind, severity=severity, title=f"title {eid}",
                 time=datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc), fingerprint=f"fp-{eid}", labels=labels)


def note(eid: str, role: str, channel: str = "ch") -> Notification:
    return Notification(id=f"{eid}-{role}", event_id=eid, route="r", role=role, channel=channel)


def fill(store) -> None:
    """Ten events a second apart: e0 … e9 (e9 newest); even ones for data scientists, churn on 3 of them."""
    for i in range(10):
        labels = {"experiment": "churn" if i in (2, 5, 8) else "fraud", "workspace": "ws1"}
        kind = "run.failed" if i % 3 == 0 else "alert.fired"
        store.ingest([(event(f"e{i}", kind=kind, severity="warning" if i % 2 else "error",
                             source="aml" if kind.startswith("run") else "azure-monitor", **labels),
                       [note(f"e{i}", "data-scientist" if i % 2 == 0 else "software-engineer")])], T0 + i)


def ids(page) -> list[str]:
    return [e.id for e, _ in page.events]


@covers("list_events")
def test_newest_first_and_paged_with_a_cursor(store):
    fill(store)
    first = store.list_events(EventFilter(), limit=4)
    assert ids(first) == ["e9", "e8", "e7", "e6"] and first.next_cursor
    assert [at for _, at in first.events] == [T0 + 9, T0 + 8, T0 + 7, T0 + 6]
    second = store.list_events(EventFilter(), first.next_cursor, limit=4)
    third = store.list_events(EventFilter(), second.next_cursor, limit=4)
    assert ids(second) == ["e5", "e4", "e3", "e2"] and ids(third) == ["e1", "e0"] and third.next_cursor == ""


@covers("list_events")
def test_every_filter_and_their_combination(store):
    fill(store)
    assert ids(store.list_events(EventFilter(labels=(("experiment", "churn"),)))) == ["e8", "e5", "e2"]
    assert ids(store.list_events(EventFilter(kind="run.failed"))) == ["e9", "e6", "e3", "e0"]
    assert ids(store.list_events(EventFilter(source="aml", severity="warning"))) == ["e9", "e3"]
    assert ids(store.list_events(EventFilter(role="data-scientist", labels=(("experiment", "churn"),)))) == ["e8", "e2"]
    assert ids(store.list_events(EventFilter(since=T0 + 3, until=T0 + 6))) == ["e5", "e4", "e3"]
    assert ids(store.list_events(EventFilter(labels=(("experiment", "churn"), ("workspace", "ws2"))))) == []
    page = store.list_events(EventFilter(role="software-engineer"), limit=2)
    assert ids(page) == ["e9", "e7"]
    assert ids(store.list_events(EventFilter(role="software-engineer"), page.next_cursor, limit=10)) == ["e5", "e3", "e1"]


@covers("notifications_for")
def test_notifications_for_an_event(store):
    fill(store)
    assert [n.id for n in store.notifications_for("e4")] == ["e4-data-scientist"]
    assert store.notifications_for("missing") == []


@covers("channel_activity")
def test_channel_activity_last_success_and_failure(store):
    store.ingest([(event("a"), [note("a", "x", "teams"), note("a", "y", "mail")])], T0)
    claimed = {n.id: n for n in store.claim(T0, 10, 30, "A")}
    teams, mail = claimed["a-x"], claimed["a-y"]
    store.finish(teams, "A", Attempt(teams.id, 1, T0 + 1, "retry", "HTTP 503"), "pending", T0 + 2, T0 + 1)
    [teams] = store.claim(T0 + 2, 10, 30, "A")
    store.finish(teams, "A", Attempt(teams.id, 2, T0 + 3, "delivered", "HTTP 202"), "sent", T0 + 3, T0 + 3)
    store.finish(mail, "A", Attempt(mail.id, 1, T0 + 4, "failed", "HTTP 403: Mail.Send missing"), "dead", T0 + 4,
                 T0 + 4)
    act = store.channel_activity()
    assert (act["teams"].last_success, act["teams"].last_failure, act["teams"].last_failure_detail) == \
        (T0 + 3, T0 + 1, "HTTP 503")
    assert (act["mail"].last_success, act["mail"].last_failure, act["mail"].last_failure_detail) == \
        (None, T0 + 4, "HTTP 403: Mail.Send missing")


def test_sqlite_index_is_built_from_the_stored_events_when_flushed(sqlite_store):
    """Intake writes no index rows; a flush (the dispatcher's, at most once a second, or the list's
    own before it reads) builds them from the events taken in since the last one: source, kind,
    severity, the roles reached and every label."""
    fill(sqlite_store)
    c = sqlite3.connect(sqlite_store.path)
    assert c.execute("SELECT COUNT(*) FROM event_index").fetchone()[0] == 0
    assert sqlite_store.flush_index(limit=3) == 3  # the oldest three
    assert {r[0] for r in c.execute("SELECT DISTINCT event_id FROM event_index")} == {"e0", "e1", "e2"}
    assert sqlite_store.flush_index() == 7 and sqlite_store.flush_index() == 0
    rows = set(c.execute("SELECT key, value, received_at FROM event_index WHERE event_id = 'e2'"))
    assert rows == {("source", "azure-monitor", T0 + 2), ("kind", "alert.fired", T0 + 2), ("severity", "error", T0 + 2),
                    ("role", "data-scientist", T0 + 2), ("label:experiment", "churn", T0 + 2),
                    ("label:workspace", "ws1", T0 + 2)}
    assert c.execute("SELECT COUNT(*) FROM event_index").fetchone()[0] == 10 * 6
    sqlite_store.ingest([(event("late"), [note("late", "qa")])], T0 + 100)
    assert ids(sqlite_store.list_events(EventFilter(role="qa")))[0] == "late"  # the list flushed first


def test_sqlite_index_after_a_purge_of_everything(sqlite_store):
    """Purging the newest events lets SQLite hand their rowids out again: the next events are still indexed."""
    fill(sqlite_store)
    sqlite_store.list_events(EventFilter())
    for n in sqlite_store.claim(T0 + 20, 100, 30, "A"):
        sqlite_store.finish(n, "A", Attempt(n.id, 1, T0 + 20, "delivered", "HTTP 200"), "sent", T0 + 20, T0 + 20)
    sqlite_store.purge(T0 + 50)
    assert ids(sqlite_store.list_events(EventFilter())) == []
    sqlite_store.ingest([(event("again", experiment="churn"), [note("again", "qa")])], T0 + 60)
    assert ids(sqlite_store.list_events(EventFilter(labels=(("experiment", "churn"),)))) == ["again"]


def test_sqlite_file_of_the_previous_version_keeps_its_index(tmp_path):
    """Version 1 files kept intake's rows in event_index_new until a flush: they are moved once, and
    the events they cover are not indexed twice."""

    from alertrouter.store.sqlite import SqliteStore

    path = tmp_path / "v1.db"
    store = SqliteStore(path)
    fill(store)
    store.close()
    with sqlite3.connect(path) as db:  # as version 1 left it: e0-e4 indexed, e5-e9 waiting
        db.execute("CREATE TABLE event_index_new (key TEXT NOT NULL, value TEXT NOT NULL, "
                   "received_at REAL NOT NULL, event_id TEXT NOT NULL)")
        db.execute("INSERT INTO event_index_new SELECT 'role', role, 0, event_id FROM notifications "
                   "WHERE event_id IN ('e5', 'e6', 'e7', 'e8', 'e9')")
        db.execute("INSERT INTO event_index SELECT 'role', role, 0, event_id FROM notifications "
                   "WHERE event_id IN ('e0', 'e1', 'e2', 'e3', 'e4')")
        db.execute("DROP TABLE event_index_done")
        db.execute("PRAGMA user_version = 1")
    reopened = SqliteStore(path)
    c = sqlite3.connect(reopened.path)
    assert c.execute("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'event_index_new'").fetchone()[0] == 0
    assert reopened.flush_index() == 0  # every event was indexed already
    assert sorted(r[0] for r in c.execute("SELECT event_id FROM event_index")) == [f"e{i}" for i in range(10)]
    reopened.close()


@covers("list_events")
def test_events_taken_in_at_one_instant_page_in_id_order_each_once(store):
    """A batch shares its instant of intake: the list orders it by id, newest first, and a cursor in the
    middle of it loses and repeats nothing."""
    store.ingest([(event(f"b{i}"), [note(f"b{i}", "qa")]) for i in range(7)], T0)
    store.ingest([(event("later"), [note("later", "qa")])], T0 + 1)
    seen, cursor = [], ""
    while True:
        page = store.list_events(EventFilter(role="qa"), cursor, limit=3)
        seen += ids(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == ["later", "b6", "b5", "b4", "b3", "b2", "b1", "b0"]
