"""The console's store queries, on both stores: the filtered, paged event list and channel activity."""

from __future__ import annotations

from datetime import datetime, timezone

from alertrouter.model import Event
from alertrouter.store.base import Attempt, EventFilter, Notification

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


def test_newest_first_and_paged_with_a_cursor(store):
    fill(store)
    first = store.list_events(EventFilter(), limit=4)
    assert ids(first) == ["e9", "e8", "e7", "e6"] and first.next_cursor
    assert [at for _, at in first.events] == [T0 + 9, T0 + 8, T0 + 7, T0 + 6]
    second = store.list_events(EventFilter(), first.next_cursor, limit=4)
    third = store.list_events(EventFilter(), second.next_cursor, limit=4)
    assert ids(second) == ["e5", "e4", "e3", "e2"] and ids(third) == ["e1", "e0"] and third.next_cursor == ""


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


def test_notifications_for_an_event(store):
    fill(store)
    assert [n.id for n in store.notifications_for("e4")] == ["e4-data-scientist"]
    assert store.notifications_for("missing") == []


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


def test_sqlite_index_rows_wait_in_arrival_order_until_flushed(sqlite_store):
    """Intake appends the event list's index rows; a flush (each dispatcher pass, or the list itself
    before it reads) moves them into the index once, and purge sees them too."""
    fill(sqlite_store)
    c = sqlite_store._conn()
    waiting = c.execute("SELECT COUNT(*) FROM event_index_new").fetchone()[0]
    assert waiting > 0 and c.execute("SELECT COUNT(*) FROM event_index").fetchone()[0] == 0
    assert sqlite_store.flush_index() == waiting
    assert sqlite_store.flush_index() == 0
    indexed = c.execute("SELECT COUNT(*) FROM event_index").fetchone()[0]
    assert indexed == waiting
    sqlite_store.ingest([(event("late"), [note("late", "qa")])], 100.0)
    assert ids(sqlite_store.list_events(EventFilter(role="qa")))[0] == "late"  # the list flushed first
    assert c.execute("SELECT COUNT(*) FROM event_index_new").fetchone()[0] == 0
