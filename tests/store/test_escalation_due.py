"""The periodic pass finds due escalations without reading every escalation ever scheduled."""

from __future__ import annotations

from alertrouter.pipeline import escalate
from alertrouter.store.sqlite import SqliteStore
from tests.store.test_inhibit_index import CountingStore

T = 1_800_000_000.0
AFTER = 900.0


def test_a_pass_reads_a_bounded_number_of_documents_however_many_escalations_were_scheduled(tmp_path):
    store = CountingStore(SqliteStore(tmp_path / "store.db"))
    try:
        escalate.due(store, T)
        for i in range(150):  # pages that resolved before anyone was due to be told
            escalate.schedule(store, f"fp-{i}", f"e-{i}", "pages", ["lead"], AFTER, T + i)
            escalate.stop(store, f"fp-{i}", "pages", "resolved", T + i + 60)
        escalate.schedule(store, "late", "e-late", "pages", ["lead"], AFTER, T + 3600)
        escalate.due(store, T + 1800)  # the minutes they would have fallen due in are read once
        reads = []
        for at in (T + 1900, T + 2000, T + 3600 + AFTER + 1):
            store.read = 0
            found = escalate.due(store, at)
            reads.append(store.read)
            assert [k for k, _, _ in found] == (["late|pages"] if at > T + 3600 + AFTER else [])
        assert max(reads) <= 8, reads  # listing every escalation read 151
    finally:
        store.close()


def test_each_due_escalation_is_found_once_claimed_and_not_again(store):
    escalate.due(store, T)
    for i in range(3):
        escalate.schedule(store, f"fp-{i}", f"e-{i}", "pages", ["lead"], AFTER + 60 * i, T)
    escalate.stop(store, "fp-1", "pages", "acknowledged", T + 10)
    assert escalate.due(store, T + AFTER - 1) == []
    [(k, doc, version)] = escalate.due(store, T + AFTER + 30)
    assert k == "fp-0|pages" and escalate.claim(store, k, doc, version, T + AFTER + 30)
    [(k, doc, version)] = escalate.due(store, T + AFTER + 200)
    assert k == "fp-2|pages" and escalate.claim(store, k, doc, version, T + AFTER + 200)
    assert escalate.due(store, T + 2 * AFTER) == []


def test_escalations_scheduled_before_the_minute_lists_are_found(store):
    # as a store written by an older version holds a waiting escalation: its document only
    store.state_put(escalate.KIND, "old|pages", {"event_id": "e", "fingerprint": "old", "route": "pages",
                                                 "to": ["lead"], "due": T + 60, "state": "waiting"}, None, T)
    assert escalate.due(store, T) == []
    [(k, doc, _)] = escalate.due(store, T + 61)
    assert k == "old|pages" and doc["event_id"] == "e"


def test_a_pass_after_a_long_pause_reads_them_all_once_then_minute_by_minute_again(store):
    escalate.due(store, T)
    escalate.schedule(store, "a", "e-a", "pages", ["lead"], AFTER, T)
    escalate.schedule(store, "b", "e-b", "pages", ["lead"], 3 * 86400, T)
    later = T + 2 * 86400  # the router was down for two days
    [(k, doc, version)] = escalate.due(store, later)
    assert k == "a|pages"
    assert escalate.due(store, later + 1) == [(k, doc, version)]  # not claimed yet: still found
    assert escalate.claim(store, k, doc, version, later + 1)
    assert escalate.due(store, later + 2) == []
    assert store.state_get(escalate.CURSOR, escalate.CURSOR_KEY)[0]["minute"] == int((later + 2) // 60)  # caught up
    [(k, _, _)] = escalate.due(store, T + 3 * 86400 + 1)
    assert k == "b|pages"
