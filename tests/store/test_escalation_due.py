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


def test_a_pass_after_a_quiet_night_reads_what_is_open_not_every_escalation_ever_scheduled(store):
    # a replay jumps from one busy day to the next: every pass is a catch-up after a pause
    counting = CountingStore(store)
    escalate.due(counting, T)
    escalate.schedule(counting, "slow", "e-slow", "pages", ["lead"], 5 * 86400, T)  # still waiting at the end
    day, per_day = 86400.0, 30
    for d in range(5):
        for i in range(per_day):  # pages resolved before anyone was due to be told
            at = T + d * day + 60 * i
            escalate.schedule(counting, f"fp-{d}-{i}", f"e-{d}-{i}", "pages", ["lead"], AFTER, at)
            escalate.stop(counting, f"fp-{d}-{i}", "pages", "resolved", at + 30)
        counting.read = 0
        found = escalate.due(counting, T + d * day + 12 * 3600)  # half a day later: a catch-up
        assert found == []
    # the last pass read the day's finished escalations and the open one, not the 150 made before
    assert counting.read <= 2 * (per_day + 1) + 2, counting.read
    [(k, doc, _)] = escalate.due(counting, T + 5 * day + 1)
    assert k == "slow|pages" and doc["state"] == "waiting"
    assert [k for k, _, _ in store.state_list(escalate.OPEN)] == ["slow|pages"]  # the finished ones pruned


def test_a_cursor_from_before_the_open_list_catches_up_from_every_escalation_once(store):
    # as an older version left it: a cursor without the open mark, a waiting escalation not in the open list
    store.state_put(escalate.CURSOR, escalate.CURSOR_KEY, {"minute": int(T // 60)}, None, T)
    store.state_put(escalate.KIND, "old|pages", {"event_id": "e", "fingerprint": "old", "route": "pages",
                                                 "to": ["lead"], "due": T + 86400, "state": "waiting"}, None, T)
    assert escalate.due(store, T + 3 * 3600) == []
    assert store.state_get(escalate.CURSOR, escalate.CURSOR_KEY)[0]["open"] == 1
    [(k, _, _)] = escalate.due(store, T + 86400 + 1)  # found by the next catch-up, through the open list
    assert k == "old|pages"
