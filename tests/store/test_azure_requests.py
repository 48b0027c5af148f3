"""How many storage requests the Azure store spends (counted at the HTTP level on Azurite, through
azure-core's request hook), and that what it spares them with never weakens a check: the etags it
remembers, the state documents a transaction keeps, the rows it writes together."""

from __future__ import annotations

from azure.data.tables import UpdateMode

from alertrouter.settings import AzureStorage
from alertrouter.store.azure import AzureStore


class Requests:
    """The requests a store's clients send, as 'METHOD resource' (the hook runs for each attempt)."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, request) -> None:
        http = request.http_request
        path = http.url.split("?")[0].split("/", 4)[-1]
        self.seen.append(f"{http.method} {path.split('(')[0]}")

    def take(self) -> list[str]:
        seen, self.seen = self.seen, []
        return seen


def counted(settings: AzureStorage, *, create: bool = True) -> tuple[AzureStore, Requests]:
    hook = Requests()
    return AzureStore.from_settings(settings, create=create, retry_total=1, raw_request_hook=hook), hook


def test_a_state_document_is_read_once_within_a_transaction_and_written_on_the_etag_it_was_read_with(
        azure_settings):
    store, hook = counted(azure_settings)
    table = store.table_names["state"]
    store.state_put("group", "g", {"n": 0}, None, 1.0)
    hook.take()
    with store.transaction():
        for _ in range(3):  # the grouping stage reads its documents three times an alert
            assert store.state_get("group", "g") == ({"n": 0}, 1)
        assert store.state_put("group", "g", {"n": 1}, 1, 2.0)
        assert store.state_get("group", "g") == ({"n": 1}, 2)
        assert store.state_get("group", "absent") is None
        assert store.state_get("group", "absent") is None
    assert hook.take() == [f"GET {table}", f"PUT {table}", f"GET {table}"]
    assert store.state_put("group", "g", {"n": 2}, 2, 3.0)  # outside: the etag its write answered with
    assert hook.take() == [f"PUT {table}"]
    assert store.state_get("group", "g") == ({"n": 2}, 3)  # outside a transaction every read is fresh
    assert store.state_get("group", "g") == ({"n": 2}, 3)
    assert hook.take() == [f"GET {table}", f"GET {table}"]
    store.close()


def test_a_document_changed_by_another_instance_makes_the_remembered_write_lose_and_the_next_read_fresh(
        azure_settings):
    store, _ = counted(azure_settings)
    other, _ = counted(azure_settings, create=False)
    store.state_put("alert", "fp", {"firing": True}, None, 1.0)
    with store.transaction():
        assert store.state_get("alert", "fp") == ({"firing": True}, 1)
        value, version = other.state_get("alert", "fp")
        assert other.state_put("alert", "fp", {"firing": False}, version, 2.0)  # behind our back
        assert store.state_get("alert", "fp") == ({"firing": True}, 1)  # the scope's copy, read a moment ago
        assert not store.state_put("alert", "fp", {"firing": "stale"}, 1, 3.0)  # its etag is stale: it loses
        assert store.state_get("alert", "fp") == ({"firing": False}, 2)  # read again after losing
        assert store.state_put("alert", "fp", {"firing": True}, 2, 4.0)
    other.state_delete("alert", "fp")
    assert not store.state_put("alert", "fp", {"firing": "gone"}, 3, 5.0)  # deleted elsewhere: it loses
    assert store.state_get("alert", "fp") is None
    other.state_put("alert", "fp", {"again": 1}, None, 6.0)  # made again elsewhere, version 1 anew
    assert not store.state_put("alert", "fp", {"x": 1}, None, 7.0)
    store.state.upsert_entity({"PartitionKey": "alert", "RowKey": "unrelated"}, mode=UpdateMode.REPLACE)
    assert store.state_get("alert", "fp") == ({"again": 1}, 1)
    store.close()
    other.close()


def test_an_event_is_taken_in_with_a_request_per_step_and_one_per_notification(azure_settings):
    """The record (with its notifications' ids), the notifications, then the event list's row,
    which takes the event in: no read on the way in; a redelivery costs the refused create, the
    reads of the record's list keys and of that row, and the row that counts it."""
    from tests.store.test_contract import T0, event, notes

    store, hook = counted(azure_settings)
    events, notifications = store.table_names["events"], store.table_names["notifications"]
    store.ingest([(event("warm", kind="run.failed"), [])], T0)  # the event list's mark, once a process
    hook.take()
    [outcome] = store.ingest([(event("e1", kind="run.failed"), notes("e1", 2))], T0)
    assert outcome.new and len(outcome.notifications) == 2
    assert hook.take() == [f"POST {events}", f"POST {notifications}", f"POST {notifications}", f"POST {events}"]
    [again] = store.ingest([(event("e1", kind="run.failed"), notes("e1", 2))], T0 + 1)
    assert not again.new and store.duplicates_of("e1")[0] == 1
    assert hook.take() == [f"POST {events}", f"GET {events}", f"GET {events}", f"PATCH {events}",
                           f"GET {events}"]  # (and duplicates_of's query)
    [fired] = store.ingest([(event("f1", kind="alert.fired"), notes("f1", 1))], T0)  # no run-start row
    assert fired.new and len(hook.take()) == 3
    [started] = store.ingest([(event("s1", kind="run.started"), notes("s1", 1))], T0)  # and its run-start row
    assert started.new and len(hook.take()) == 4
    store.close()


def test_a_batch_writes_its_event_list_rows_a_hundred_to_a_request(azure_settings):
    from alertrouter.store.base import EventFilter
    from tests.store.test_contract import T0, event, notes

    store, hook = counted(azure_settings)
    store.ingest([(event("warm", kind="run.failed"), [])], T0)
    hook.take()
    outcomes = store.ingest([(event(f"b{i}", kind="run.failed"), notes(f"b{i}", 1)) for i in range(150)], T0 + 1)
    assert all(o.new for o in outcomes)
    seen = hook.take()
    assert seen.count("POST $batch") == 2 and len(seen) == 150 * 2 + 2  # a record and a notification each
    assert store.counts()["events"] == 151
    page = store.list_events(EventFilter(), limit=200)
    assert len(page.events) == 151 and page.events[0][0].id in {f"b{i}" for i in range(150)}
    store.close()


def test_records_written_with_index_rows_or_too_many_ids_for_one_property_still_list_and_purge(azure_settings):
    """A record from before the ids were kept in it (one index row per notification) and one whose
    ids are longer than a property holds: notifications_for and purge find them through the rows."""
    from alertrouter.store.azure import BODY, NIDS_MAX_CHARS, _h
    from alertrouter.store.base import Attempt, Notification
    from tests.store.test_contract import T0, event, notes

    store, _ = counted(azure_settings)
    store.ingest([(event("old"), notes("old", 3))], T0)
    record = store.events.get_entity(_h("old"), BODY)
    for nid in json_ids(record):  # as the store wrote it before: rows, no ids in the record
        store.events.upsert_entity({"PartitionKey": _h("old"), "RowKey": "n-" + _h(nid), "notification_id": nid})
    del record["nids"]
    store.events.upsert_entity(record, mode=UpdateMode.REPLACE)
    long_ids = [Notification(id=f"long-{i}-" + "x" * 400, event_id="many", route="r", role=f"r{i}", channel="ch")
                for i in range(NIDS_MAX_CHARS // 400 + 5)]
    store.ingest([(event("many"), long_ids)], T0)
    assert store.events.get_entity(_h("many"), BODY).get("nids_rows") is True
    assert [n.id for n in store.notifications_for("old")] == ["old-n0", "old-n1", "old-n2"]
    assert len(store.notifications_for("many")) == len(long_ids)
    for n in store.claim(T0, 200, 30, "A"):
        assert store.finish(n, "A", Attempt(n.id, 1, T0, "delivered", "ok"), "sent", T0, T0)
    assert store.purge(T0 + 1) == 3 + len(long_ids)
    assert list(store.events.list_entities()) == []
    store.close()


def json_ids(record) -> list[str]:
    import json

    return json.loads(record["nids"])


def test_a_notification_is_delivered_with_two_requests_by_the_instance_that_made_it(azure_settings):
    """Claimed by id on the etag its create answered with (no read), then one merge with the result
    and the attempt; by another instance, or once it changed since, it is read first."""
    from alertrouter.store.base import Attempt
    from tests.store.test_contract import T0, event, notes

    store, hook = counted(azure_settings)
    other, other_hook = counted(azure_settings, create=False)
    table = store.table_names["notifications"]
    store.ingest([(event("e1", kind="run.failed"), notes("e1", 3))], T0)
    hook.take()
    [a] = store.claim(T0, 10, 30, "A", ids=["e1-n0"])
    assert store.finish(a, "A", Attempt(a.id, 1, T0, "delivered", "HTTP 200"), "sent", T0, T0)
    assert hook.take() == [f"PATCH {table}", f"PATCH {table}"]
    [b] = other.claim(T0, 10, 30, "B", ids=["e1-n1"])  # another instance: it reads the entity first
    assert other_hook.take() == [f"GET {table}", f"PATCH {table}"]
    other.release([b.id], "B")
    assert store.claim(T0, 10, 30, "A", ids=["e1-n1"])[0].id == "e1-n1"  # changed since made: read, then leased
    assert hook.take() == [f"PATCH {table}", f"GET {table}", f"PATCH {table}"]
    assert store.claim(T0, 10, 30, "A", ids=["e1-n0"]) == []  # sent: not due, whatever this process made
    assert [(h.number, h.status) for h in store.history("e1-n0")] == [(1, "delivered")]
    store.close()
    other.close()


def test_history_past_what_the_row_holds_and_long_details_go_to_the_attempts_table(azure_store):
    """Attempts beyond HISTORY_IN_ROW, and a detail longer than HISTORY_DETAIL, get rows of the
    attempts table; history reads both in order, re-drives are noted, purge takes them all."""
    from alertrouter.store.azure import entities
    from alertrouter.store.base import Attempt
    from tests.store.test_contract import T0, event, notes

    azure_store.ingest([(event("e1", kind="run.failed"), notes("e1", 1))], T0)
    long = "é" * (entities.HISTORY_DETAIL + 1)
    total = entities.HISTORY_IN_ROW + 3
    for k in range(1, total + 1):
        [n] = azure_store.claim(T0 + k, 1, 30, "A")
        detail = long if k == 2 else f"HTTP 503 #{k}"
        status = "dead" if k == total else "pending"
        assert azure_store.finish(n, "A", Attempt(n.id, k, T0 + k, "retry", detail, 1.5), status, T0 + k, T0 + k)
    assert azure_store.redrive(["e1-n0"], T0 + 100) == ["e1-n0"]
    got = azure_store.history("e1-n0")
    assert [h.number for h in got] == list(range(1, total + 1)) + [0]
    assert got[1].detail == long and got[0].retry_after == 1.5 and got[-1].status == "redriven"
    rows = list(azure_store.attempts.list_entities())
    assert len(rows) == 1 + (total - entities.HISTORY_IN_ROW)  # the long one, those past the row, the note
    [n] = azure_store.claim(T0 + 101, 1, 30, "A")
    azure_store.finish(n, "A", Attempt(n.id, 1, T0 + 101, "failed", "HTTP 400"), "dead", T0 + 101, T0 + 101)
    assert azure_store.channel_activity()["ch"].last_failure_detail == "HTTP 400"
    assert azure_store.purge(T0 + 1000) == 1
    assert list(azure_store.attempts.list_entities()) == [] and list(azure_store.notifications.list_entities()) == []


def test_a_notification_made_before_history_was_kept_in_its_row_still_shows_its_attempts(azure_store):
    from alertrouter.store.azure import _h
    from alertrouter.store.base import Attempt
    from tests.store.test_contract import T0, event, notes

    azure_store.ingest([(event("e1", kind="run.failed"), notes("e1", 1))], T0)
    row = azure_store.notifications.get_entity(_h("e1-n0"), "n")
    del row["history"]  # as written before
    azure_store.notifications.upsert_entity(row, mode=UpdateMode.REPLACE)
    azure_store._record(Attempt("e1-n0", 1, T0 + 1, "retry", "HTTP 502"))
    [n] = azure_store.claim(T0 + 2, 1, 30, "A")
    assert azure_store.finish(n, "A", Attempt(n.id, 2, T0 + 2, "delivered", "HTTP 200"), "sent", T0 + 2, T0 + 2)
    assert [(h.number, h.detail) for h in azure_store.history("e1-n0")] == [(1, "HTTP 502"), (2, "HTTP 200")]
    assert azure_store.purge(T0 + 10) == 1
    assert list(azure_store.attempts.list_entities()) == []


def test_the_azure_path_benchmark_counts_each_workloads_requests_and_cpu(azurite):
    """benchmarks/azure_path.py on the session's Azurite: the requests it counts per alert and per
    notification are exact (the figures benchmarks/README.md and docs/deploy.md quote)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "ALERTROUTER_AZURE__CONNECTION_STRING": azurite.connection_string}
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "azure_path.py"), "--n", "10", "--json"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {r["workload"]: r for r in json.loads(done.stdout.strip().splitlines()[-1])}
    single, resolved, batch, runs, storm = (rows[w] for w in ("single", "resolved", "batch", "runs", "storm"))
    assert (single["alerts"], single["delivered"]) == (10, 10)
    assert single["requests_in"] == 5 * 10 and single["intake"]["POST queue message"] == 10
    assert single["delivery"]["PATCH Notifications entity"] == 2 * 10  # the lease, the result: nothing else
    assert single["requests_out"] - 2 * 10 <= 2, single["delivery"]  # the pass's channel-health read, once
    # a record, notification and run-end claim each; the list rows in one request, the queue message
    # naming the batch's notifications in one more (up to 16 a message)
    assert batch["requests_in"] == 3 * 10 + 2 and batch["intake"]["POST queue message"] == 1
    assert batch["delivery"]["PATCH Notifications entity"] == 2 * 10  # and the run's start, looked up
    # a run's end on the shipped config: to two roles here (with no channel variables set, the QA
    # role's two channels both fall back to the log channel); its start looked up once for both
    assert runs["notifications"] == runs["delivered"] == 2 * 10
    assert runs["delivery"]["GET Events query"] == 10 and runs["delivery"]["PATCH Notifications entity"] == 2 * 20
    # a resolution: the alert's state read and written, no run-start row; the silences' revision at
    # most once a second; delivered without looking its start up (the payload states when it fired)
    assert (resolved["alerts"], resolved["delivered"]) == (10, 10)
    assert 6 * 10 <= resolved["requests_in"] <= 6 * 10 + 2, resolved["intake"]
    assert resolved["requests_out"] - 2 * 10 <= 2 and "GET Events query" not in resolved["delivery"]
    assert 7 * 10 <= storm["requests_in"] <= 7 * 10 + 2 and storm["delivered"] == 0  # grouped: notice 30 s later
    assert all(r["cpu_ms_in"] > 0 for r in rows.values())
