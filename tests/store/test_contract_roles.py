"""The store contract, continued: deferring, the oldest pending notification, the event list's
index flush, the delivery queue, closing, and the digest's read of events by time. Every store
passes the same tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alertrouter.store.base import Attempt, EventFilter
from tests.store.contract import covers
from tests.store.test_contract import T0, event, notes

UTC = timezone.utc


@covers("defer")
def test_defer_hands_a_claim_back_without_spending_an_attempt(store):
    store.ingest([(event("d"), notes("d", 1))], T0)
    [n] = store.claim(T0, 10, 30, "A")
    assert not store.defer(n.id, "B", T0 + 60, "not B's to defer", T0 + 1)
    assert store.defer(n.id, "A", T0 + 60, "rate limited: 1 a minute", T0 + 1)
    got = store.get(n.id)
    assert (got.status, got.attempts, got.lease_owner, got.next_attempt_at, got.last_detail) == \
        ("pending", 0, "", T0 + 60, "rate limited: 1 a minute")
    assert store.history(n.id) == []  # no attempt was recorded
    assert store.claim(T0 + 59, 10, 30, "B") == []
    assert [x.id for x in store.claim(T0 + 60, 10, 30, "B")] == [n.id]
    assert not store.defer(n.id, "A", T0 + 120, "A holds it no longer", T0 + 61)


@covers("oldest_pending", "next_due")
def test_oldest_pending_and_next_due(store):
    assert store.oldest_pending() is None and store.next_due() is None
    store.ingest([(event("a"), notes("a", 1))], T0)
    store.ingest([(event("b"), notes("b", 1))], T0 + 10)
    assert store.oldest_pending() == T0
    [n] = store.claim(T0, 1, 30, "A")
    assert store.next_due() == T0 + 10  # the other one; the claimed one is leased until T0 + 30
    store.finish(n, "A", Attempt(n.id, 1, T0, "delivered", "ok"), "sent", T0, T0)
    assert store.oldest_pending() == T0 + 10
    [m] = store.claim(T0 + 10, 1, 30, "A")
    store.finish(m, "A", Attempt(m.id, 1, T0 + 10, "failed", "HTTP 400"), "dead", T0 + 10, T0 + 10)
    assert store.oldest_pending() is None and store.next_due() is None


@covers("flush_index")
def test_flush_index_indexes_each_event_once_and_the_list_sees_them_all(store):
    store.ingest([(event(f"f{i}"), notes(f"f{i}", 1)) for i in range(3)], T0)
    first = store.flush_index(limit=2)
    assert 0 <= first <= 2
    rest = store.flush_index()
    assert first + rest in (0, 3)  # every event once, or none where the store has no index to build
    assert store.flush_index() == 0
    page = store.list_events(EventFilter(role="role0"))
    assert [e.id for e, _ in page.events] == ["f2", "f1", "f0"]


@covers("enqueue")
def test_enqueue_leaves_the_outbox_as_it_was(store):
    store.ingest([(event("q"), notes("q", 2))], T0)

    def outbox():
        return sorted((n.id, n.status, n.next_attempt_at, n.attempts, n.lease_owner) for n in store.list())

    before = outbox()
    store.enqueue(["q-n0", "q-n1"])
    store.enqueue(["q-n1"], delay_seconds=30)
    store.enqueue([])
    assert outbox() == before
    assert sorted(n.id for n in store.claim(T0, 10, 30, "A")) == ["q-n0", "q-n1"]


@covers("close")
def test_close_keeps_everything_written(store, reopen):
    store.ingest([(event("c"), notes("c", 1))], T0)
    assert store.state_put("alert", "fp-c", {"firing": True}, None, T0)
    store.close()
    store.close()  # closing twice is harmless
    again = reopen()
    assert again.get_event("c") == event("c")
    assert [n.id for n in again.list()] == ["c-n0"]
    assert again.state_get("alert", "fp-c") == ({"firing": True}, 1)


@covers("events_between")
def test_events_between_is_half_open_on_the_instant_and_filters_kinds(store):
    plus2 = timezone(timedelta(hours=2))
    late = event("c", minute=9).model_copy(update={"time": datetime(2026, 11, 20, 12, 9, tzinfo=plus2)})  # 10:09 UTC
    store.ingest([(event("a2", minute=0), []), (event("a1", minute=0), []),
                  (event("b", kind="run.started", minute=5), []), (late, [])], T0)
    ten = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    def ids(start, end, kinds=None):
        return [e.id for e in store.events_between(start, end, kinds)]

    # by time, the same time in the order taken in (a2 came first); the end is excluded
    assert ids(ten, ten + timedelta(minutes=9)) == ["a2", "a1", "b"]
    assert ids(ten, ten + timedelta(minutes=10)) == ["a2", "a1", "b", "c"]
    assert ids(ten + timedelta(microseconds=1), ten + timedelta(minutes=10)) == ["b", "c"]  # the start is included
    assert ids(ten.astimezone(plus2), (ten + timedelta(minutes=10)).astimezone(plus2)) == ["a2", "a1", "b", "c"]
    assert ids(ten, ten + timedelta(minutes=10), ["run.started"]) == ["b"]
    # taken in later, by a request of its own: after them, whatever its id
    store.ingest([(event("a0", minute=0), [])], T0 + 1)
    assert ids(ten, ten + timedelta(minutes=1)) == ["a2", "a1", "a0"]
    assert ids(ten, ten + timedelta(minutes=10), []) == []
    assert store.events_between(ten - timedelta(days=1), ten) == []


@covers("made_between")
def test_made_between_reads_the_notifications_of_a_period(store):
    store.ingest([(event("p0"), notes("p0", 2))], T0 - 1)
    store.ingest([(event("p1"), notes("p1", 1))], T0)
    store.ingest([(event("p2"), notes("p2", 2))], T0 + 59.5)
    store.ingest([(event("p3"), notes("p3", 1))], T0 + 60)
    [n] = store.claim(T0 + 60, 1, 30, "A", ids=[notes("p1", 1)[0].id])
    store.finish(n, "A", Attempt(n.id, 1, T0 + 60, "delivered", "ok"), "sent", T0 + 60, T0 + 60)
    got = store.made_between(T0, T0 + 60)
    assert [(x.event_id, x.created_at) for x in got] == [("p1", T0), ("p2", T0 + 59.5), ("p2", T0 + 59.5)]
    assert [x.status for x in got] == ["sent", "pending", "pending"]  # as they stand now
    assert [x.id for x in got[1:]] == sorted(x.id for x in got[1:])
    assert store.made_between(T0 + 61, T0 + 120) == []


@covers("events_between")
def test_a_narrow_period_of_a_long_log_and_a_wide_one_read_alike(store):
    """A period holding a few of many events (SQLite reads it by the instant's index) and one holding
    most of them (a scan in intake order) give the events a plain filter gives, ties in intake order."""
    base = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    evs = [event(f"n{i:02d}").model_copy(update={"time": base + timedelta(hours=i // 2)}) for i in range(40)]
    store.ingest([(e, []) for e in reversed(evs[:20])], T0)  # ties taken in against their id order
    store.ingest([(e, []) for e in evs[20:]], T0 + 1)
    order = [e.id for e in reversed(evs[:20])] + [e.id for e in evs[20:]]

    def expected(start, end):
        return sorted((e for e in evs if start <= e.time < end), key=lambda e: (e.time, order.index(e.id)))

    for start, end in ((base + timedelta(hours=3), base + timedelta(hours=5)),
                       (base + timedelta(hours=12), base + timedelta(hours=13, minutes=30)),
                       (base, base + timedelta(days=1))):
        assert [e.id for e in store.events_between(start, end)] == [e.id for e in expected(start, end)]
