"""The store contract: every Store implementation passes the same tests."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

from alertrouter.model import Event
from alertrouter.store.base import Attempt, Notification
from tests.store.contract import covers

T0 = 1_800_000_000.0


def event(eid: str = "e1", kind: str = "alert.fired", fingerprint: str = "fp", minute: int = 0) -> Event:
    return Event(id=eid, source="azure-monitor", kind=kind, severity="error", title=f"title {eid}",
                 time=datetime(2026, 11, 20, 10, minute, tzinfo=timezone.utc), fingerprint=fingerprint,
                 labels={"alert_rule": "cpu"}, raw={"x": [1, 2]})


def notes(eid: str, n: int = 2) -> list[Notification]:
    return [Notification(id=f"{eid}-n{i}", event_id=eid, route="r", role=f"role{i}", channel="ch") for i in range(n)]


@covers("ingest", "counts")
def test_ingest_is_idempotent_per_event_id(store):
    [first] = store.ingest([(event("e1"), notes("e1"))], T0)
    [again] = store.ingest([(event("e1"), notes("e1"))], T0 + 1)
    assert first.new and [n.id for n in first.notifications] == ["e1-n0", "e1-n1"]
    assert not again.new and again.notifications == []
    assert store.counts() == {"events": 1, "pending": 2, "sent": 0, "dead": 0, "held": 0}


@covers("ingest")
def test_same_event_twice_in_one_batch(store):
    outcomes = store.ingest([(event("e1"), notes("e1")), (event("e1"), notes("e1"))], T0)
    assert [o.new for o in outcomes] == [True, False]
    assert store.counts()["pending"] == 2


@covers("get_event", "first_time")
def test_event_round_trip_and_first_time(store):
    store.ingest([(event("s", kind="run.started", fingerprint="run:1", minute=1), []),
                  (event("e", kind="run.completed", fingerprint="run:1", minute=43), [])], T0)
    assert store.get_event("s") == event("s", kind="run.started", fingerprint="run:1", minute=1)
    assert store.get_event("missing") is None
    assert store.first_time("run:1", "run.started") == datetime(2026, 11, 20, 10, 1, tzinfo=timezone.utc)
    assert store.first_time("run:2", "run.started") is None


@covers("claim")
def test_claim_leases_due_notifications_to_one_owner(store):
    store.ingest([(event("e1"), notes("e1", 3))], T0)
    a = store.claim(T0, 2, 30, "A")
    b = store.claim(T0, 10, 30, "B")
    assert len(a) == 2 and len(b) == 1
    assert {n.id for n in a}.isdisjoint({n.id for n in b})
    assert store.claim(T0 + 10, 10, 30, "C") == []  # all leased
    assert len(store.claim(T0 + 31, 10, 30, "C")) == 3  # leases ran out


@covers("claim")
def test_claim_by_ids(store):
    store.ingest([(event("e1"), notes("e1", 3))], T0)
    assert [n.id for n in store.claim(T0, 10, 30, "A", ids=["e1-n2"])] == ["e1-n2"]
    assert store.claim(T0, 10, 30, "A", ids=[]) == []


@covers("finish", "get", "history")
def test_finish_requires_the_lease(store):
    store.ingest([(event("e1"), notes("e1", 1))], T0)
    [n] = store.claim(T0, 10, 30, "A")
    assert not store.finish(n, "B", Attempt(n.id, 1, T0 + 1, "delivered", "HTTP 202"), "sent", T0 + 1, T0 + 1)
    assert store.finish(n, "A", Attempt(n.id, 1, T0 + 1, "delivered", "HTTP 202"), "sent", T0 + 1, T0 + 1)
    got = store.get(n.id)
    assert (got.status, got.attempts, got.last_detail, got.lease_owner) == ("sent", 1, "HTTP 202", "")
    assert [(a.number, a.status, a.detail) for a in store.history(n.id)] == [(1, "delivered", "HTTP 202")]
    assert store.claim(T0 + 100, 10, 30, "A") == []  # sent is never claimed again


@covers("finish", "next_due", "list", "redrive", "history")
def test_retry_schedule_and_dead_letter_and_redrive(store):
    store.ingest([(event("e1"), notes("e1", 1))], T0)
    [n] = store.claim(T0, 10, 30, "A")
    store.finish(n, "A", Attempt(n.id, 1, T0, "retry", "HTTP 429", 60.0), "pending", T0 + 60, T0)
    assert store.claim(T0 + 59, 10, 30, "A") == []
    assert store.next_due() == T0 + 60
    [n] = store.claim(T0 + 60, 10, 30, "A")
    assert n.attempts == 1
    store.finish(n, "A", Attempt(n.id, 2, T0 + 60, "failed", "HTTP 400"), "dead", T0 + 60, T0 + 60)
    assert [x.id for x in store.list("dead")] == [n.id]
    assert store.redrive(None, T0 + 100) == [n.id]
    again = store.get(n.id)
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, T0 + 100)
    assert [a.status for a in store.history(n.id)] == ["retry", "failed", "redriven"]


@covers("release")
def test_release_hands_claimed_back(store):
    store.ingest([(event("e1"), notes("e1", 2))], T0)
    claimed = store.claim(T0, 10, 30, "A")
    store.release([claimed[0].id], "B")  # not B's: nothing happens
    assert store.claim(T0, 10, 30, "B") == []
    store.release([n.id for n in claimed], "A")
    assert len(store.claim(T0, 10, 30, "B")) == 2


@covers("list")
def test_list_filters_by_status(store):
    store.ingest([(event("e1"), notes("e1", 2))], T0)
    assert sorted(n.id for n in store.list("pending")) == ["e1-n0", "e1-n1"]
    assert store.list("sent") == []
    assert len(store.list(limit=1)) == 1


@covers("purge")
def test_purge_old_sent_and_dead(store):
    store.ingest([(event("old"), notes("old", 1)), (event("new"), notes("new", 1))], T0)
    for n in store.claim(T0, 10, 30, "A"):
        when = T0 if n.event_id == "old" else T0 + 5000
        store.finish(n, "A", Attempt(n.id, 1, when, "delivered", "ok"), "sent", when, when)
    assert store.purge(T0 + 1000) == 1
    assert store.get("old-n0") is None and store.history("old-n0") == []
    assert store.get("new-n0").status == "sent"


@covers("claim")
def test_concurrent_claims_never_overlap(store):
    store.ingest([(event(f"e{i}"), notes(f"e{i}", 5)) for i in range(20)], T0)
    got: dict[str, list[str]] = {}

    def worker(name: str):
        mine = []
        while batch := store.claim(T0, 7, 30, name):
            mine.extend(n.id for n in batch)
        got[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    all_ids = [i for ids in got.values() for i in ids]
    assert len(all_ids) == 100 and len(set(all_ids)) == 100


@covers("state_get", "state_put", "state_list", "state_delete")
def test_state_documents_with_optimistic_concurrency(store):
    assert store.state_get("silence", "s1") is None
    assert store.state_put("silence", "s1", {"comment": "deploy"}, None, T0)
    assert not store.state_put("silence", "s1", {"comment": "again"}, None, T0)  # exists: create loses
    assert store.state_get("silence", "s1") == ({"comment": "deploy"}, 1)
    assert store.state_put("silence", "s1", {"comment": "v2"}, 1, T0)
    assert not store.state_put("silence", "s1", {"comment": "stale"}, 1, T0)  # version moved on
    assert store.state_get("silence", "s1") == ({"comment": "v2"}, 2)
    store.state_put("silence", "a/b|c", {"x": [1, {"y": None}]}, None, T0)
    store.state_put("group", "s1", {}, None, T0)  # kinds are separate
    assert [(k, v) for k, v, _ in store.state_list("silence")] == [("a/b|c", {"x": [1, {"y": None}]}),
                                                                    ("s1", {"comment": "v2"})]
    store.state_delete("silence", "s1")
    assert [k for k, _, _ in store.state_list("silence")] == ["a/b|c"]
    assert store.state_get("group", "s1") == ({}, 1)


@covers("state_get", "state_put")
def test_state_put_races_have_one_winner(store):
    store.state_put("group", "g", {"n": 0}, None, T0)
    wins = []

    def bump():
        for _ in range(20):
            while True:
                value, version = store.state_get("group", "g")
                if store.state_put("group", "g", {"n": value["n"] + 1}, version, T0):
                    wins.append(1)
                    break

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.state_get("group", "g")[0] == {"n": 80} and len(wins) == 80


@covers("events_between")
def test_events_between_for_the_digest(store):
    from datetime import timedelta

    store.ingest([(event("a", kind="run.started", minute=1), []), (event("b", kind="run.completed", minute=5), []),
                  (event("c", kind="alert.fired", minute=9), [])], T0)
    start = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
    got = store.events_between(start, start + timedelta(minutes=9), ["run.started", "run.completed"])
    assert [e.id for e in got] == ["a", "b"]
    # the routed fields as taken in, without the payload as it came (get_event keeps it)
    assert got[0] == event("a", kind="run.started", minute=1).model_copy(update={"raw": None})
    assert store.get_event("a").raw == {"x": [1, 2]}
    assert [e.id for e in store.events_between(start, start + timedelta(minutes=10))] == ["a", "b", "c"]


@covers("transaction")
def test_writes_grouped_in_a_transaction_all_land(store):
    """`transaction()` groups writes (one commit on SQLite, each write on its own in Azure): every
    write inside it is there afterwards, read back from a second look at the store."""
    with store.transaction():
        store.ingest([(event("t1"), notes("t1"))], 10.0)
        assert store.state_put("alert", "fp-t", {"firing": True}, None, 10.0)
        with store.transaction():  # nested: joins the outer one
            assert store.state_put("alert", "fp-u", {"firing": False}, None, 10.0)
    assert store.get_event("t1") is not None
    assert [k for k, _, _ in store.state_list("alert")] == ["fp-t", "fp-u"]
    assert {n.status for n in store.list(limit=10)} == {"pending"}


def test_sqlite_transaction_rolls_back_as_a_whole(sqlite_store):
    try:
        with sqlite_store.transaction():
            sqlite_store.ingest([(event("r1"), notes("r1"))], 10.0)
            with sqlite_store.transaction():
                sqlite_store.state_put("alert", "fp-r", {"firing": True}, None, 10.0)
            raise RuntimeError("the request failed part-way")
    except RuntimeError:
        pass
    assert sqlite_store.get_event("r1") is None and sqlite_store.state_get("alert", "fp-r") is None
    assert sqlite_store.list(limit=10) == []
    sqlite_store.ingest([(event("r1"), notes("r1"))], 11.0)  # the store takes writes again
    assert sqlite_store.get_event("r1") is not None


def test_memory_transaction_rolls_back_as_a_whole(memory_store):
    """The in-memory store undoes a failed transaction too: the event and its notifications, the
    state written beside them, an attempt, a changed lease, a deleted document."""
    s = memory_store
    s.ingest([(event("k1"), notes("k1", 1))], 9.0)
    s.state_put("alert", "fp-k", {"firing": True}, None, 9.0)
    [n] = s.claim(9.0, 10, 30, "A")
    before = (s.get("k1-n0"), s.state_list("alert"), s.counts())
    try:
        with s.transaction():
            s.ingest([(event("r1"), notes("r1")), (event("k1"), notes("k1", 1))], 10.0)
            with s.transaction():
                s.state_put("alert", "fp-r", {"firing": True}, None, 10.0)
                s.state_put("alert", "fp-k", {"firing": False}, 1, 10.0)
                s.state_delete("alert", "fp-k")
            s.finish(n, "A", Attempt(n.id, 1, 10.0, "delivered", "ok"), "sent", 10.0, 10.0)
            raise RuntimeError("the request failed part-way")
    except RuntimeError:
        pass
    assert s.get_event("r1") is None and s.state_get("alert", "fp-r") is None
    assert (s.get("k1-n0"), s.state_list("alert"), s.counts()) == before
    assert s.history("k1-n0") == [] and s.duplicates_of("k1") == (0, [])
    s.ingest([(event("r1"), notes("r1"))], 11.0)  # the store takes writes again
    assert s.get_event("r1") is not None and s.counts()["pending"] == 3


def test_sqlite_writers_on_many_threads_share_the_file(sqlite_store):
    def write(i: int) -> None:
        for j in range(20):
            with sqlite_store.transaction():
                sqlite_store.ingest([(event(f"w{i}-{j}"), notes(f"w{i}-{j}", 1))], 10.0)
                sqlite_store.state_put("alert", f"w{i}-{j}", {"firing": True}, None, 10.0)
    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sqlite_store.counts()["pending"] == 80 and len(sqlite_store.state_list("alert")) == 80


@covers("duplicates_of")
def test_redeliveries_are_counted_per_event(store):
    store.ingest([(event("d1"), notes("d1"))], 10.0)
    assert store.duplicates_of("d1") == (0, [])
    store.ingest([(event("d1"), notes("d1"))], 11.0)
    store.ingest([(event("d1"), notes("d1")), (event("d2"), notes("d2"))], 12.0)
    assert store.duplicates_of("d1") == (2, [12.0, 11.0])
    assert store.duplicates_of("d2") == (0, [])
    assert store.duplicates_of("d1", limit=1) == (2, [12.0])


@covers("transaction", "state_get", "state_put", "state_delete")
def test_state_documents_within_a_transaction_see_its_own_writes_and_a_stale_version_still_loses(store):
    store.state_put("group", "g", {"n": 0}, None, T0)
    with store.transaction():
        value, version = store.state_get("group", "g")
        value["n"] = 99  # a caller changing what it read changes nothing stored
        assert (version, store.state_get("group", "g")) == (1, ({"n": 0}, 1))
        assert store.state_put("group", "g", {"n": 1}, 1, T0)
        assert store.state_get("group", "g") == ({"n": 1}, 2)
        assert not store.state_put("group", "g", {"n": 2}, 1, T0)  # the version moved on
        assert store.state_get("group", "g") == ({"n": 1}, 2)
        assert store.state_get("group", "new") is None
        assert store.state_put("group", "new", {"made": True}, None, T0)
        assert not store.state_put("group", "new", {"made": "twice"}, None, T0)
        assert store.state_get("group", "new") == ({"made": True}, 1)
        store.state_delete("group", "g")
        assert store.state_get("group", "g") is None
        assert store.state_put("group", "g", {"n": "anew"}, None, T0)
    assert store.state_get("group", "g") == ({"n": "anew"}, 1)
    assert store.state_get("group", "new") == ({"made": True}, 1)
