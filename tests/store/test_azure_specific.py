"""What only the Azure store has to get right (on Azurite): keys from arbitrary ids, events larger
than a property or an entity, the ingest write order under a crash and a race, optimistic
concurrency across instances, the queue's encoding and delay, and the settings (secrets kept out
of errors and logs)."""

from __future__ import annotations

import base64
import logging
import threading
from datetime import datetime, timedelta, timezone

import pytest
from azure.data.tables import UpdateMode
from azure.storage.queue import QueueClient

from alertrouter.app import App
from alertrouter.build import dispatcher_for
from alertrouter.config.load import loads
from alertrouter.settings import AzureStorage
from alertrouter.store.azure import BODY, CHUNK_BYTES, LIST, MARKER, AzureStore, _h
from alertrouter.store.base import Attempt, EventFilter, Notification
from tests.conftest import CAPTURE_CONFIG, captured
from tests.store.azurite import KEY
from tests.store.test_contract import T0, event, notes


def twin(settings: AzureStorage) -> AzureStore:
    """A second store on the same tables and queue: another Function instance."""
    return AzureStore.from_settings(settings, create=False, retry_total=1)


def test_ids_with_characters_keys_cannot_hold(azure_store):
    eid = "run/42\\a#b?c'd\x07é"
    ns = [Notification(id=f"{eid}|{role}", event_id=eid, route="r/1", role=role, channel="ch#1")
          for role in ("x/y", "p?q")]
    [outcome] = azure_store.ingest([(event(eid), ns)], T0)
    assert outcome.new and len(outcome.notifications) == 2
    assert azure_store.get_event(eid) == event(eid)
    assert [n.id for n in azure_store.notifications_for(eid)] == sorted(n.id for n in ns)
    [n] = azure_store.claim(T0, 10, 30, "A", ids=[ns[1].id])
    assert azure_store.finish(n, "A", Attempt(n.id, 1, T0, "delivered", "ok"), "sent", T0, T0)
    assert [a.detail for a in azure_store.history(n.id)] == ["ok"]
    assert azure_store.get(n.id).route == "r/1"


def test_many_notifications_and_repeated_ids(azure_store):
    ns = notes("e1", 105) + notes("e1", 2)  # more than one entity-group transaction; two ids twice
    [outcome] = azure_store.ingest([(event("e1"), ns)], T0)
    assert outcome.new and [n.id for n in outcome.notifications] == [n.id for n in ns[:105]]
    assert azure_store.counts()["pending"] == 105
    assert len(azure_store.notifications_for("e1")) == 105


def test_event_over_a_property_is_split_and_round_trips(azure_store):
    big = event("big").model_copy(update={"raw": {"blob": "é" * (3 * CHUNK_BYTES // 2)}})  # ~192 KB of JSON
    azure_store.ingest([(big, notes("big", 1))], T0)
    record = azure_store.events.get_entity(_h("big"), BODY)
    assert record["body_parts"] == 4 and record["trimmed"] == ""
    assert azure_store.get_event("big") == big


def test_event_over_an_entity_is_kept_without_raw(azure_store, caplog):
    huge = event("huge").model_copy(update={"raw": {"blob": "x" * 1_200_000}})
    [outcome] = azure_store.ingest([(huge, notes("huge", 1))], T0)
    assert outcome.new and len(outcome.notifications) == 1
    assert azure_store.get_event("huge") == huge.model_copy(update={"raw": None})
    assert azure_store.events.get_entity(_h("huge"), BODY)["trimmed"] == "raw"
    assert "stored without raw" in caplog.text


def test_ingest_interrupted_before_the_list_row_loses_and_duplicates_nothing(azure_store, monkeypatch):
    create = azure_store.events.create_entity

    def crash(entity, **kw):
        if entity["PartitionKey"].startswith(LIST):
            raise ConnectionError("instance died")
        return create(entity, **kw)

    monkeypatch.setattr(azure_store.events, "create_entity", crash)  # the list row is the last write
    with pytest.raises(ConnectionError):
        azure_store.ingest([(event("e1"), notes("e1", 2))], T0)
    monkeypatch.undo()
    # not taken in, but everything needed to deliver is there (if the sender never retries, the
    # sweep still sends them)
    assert azure_store.counts() == {"events": 0, "pending": 2, "sent": 0, "dead": 0, "held": 0}
    assert azure_store.get_event("e1") == event("e1")
    assert [n.id for n in azure_store.notifications_for("e1")] == ["e1-n0", "e1-n1"]
    assert azure_store.list_events(EventFilter()).events == []

    [again] = azure_store.ingest([(event("e1"), notes("e1", 2))], T0 + 5)  # the sender retries
    assert again.new and sorted(n.id for n in again.notifications) == ["e1-n0", "e1-n1"]
    assert {n.created_at for n in again.notifications} == {T0}  # the ones already there, not new ones
    assert azure_store.counts() == {"events": 1, "pending": 2, "sent": 0, "dead": 0, "held": 0}
    [third] = azure_store.ingest([(event("e1"), notes("e1", 2))], T0 + 9)
    assert not third.new and third.notifications == []
    assert azure_store.duplicates_of("e1")[0] == 1


def test_a_record_from_before_the_list_row_came_last_is_judged_by_its_marker(azure_store):
    """A store written before: a record without `v`, its list row written beside its notifications,
    and the event taken in when its marker row was written. A retry of one whose marker is missing
    (an ingest that stopped part-way) is taken in now; one with its marker is a redelivery."""
    for eid in ("done", "halfway"):
        azure_store.ingest([(event(eid), notes(eid, 1))], T0)
        record = azure_store.events.get_entity(_h(eid), BODY)
        del record["v"]
        azure_store.events.upsert_entity(record, mode=UpdateMode.REPLACE)
        row = azure_store.events.get_entity(record["list_pk"], record["list_rk"])
        del row["taken"]
        azure_store.events.upsert_entity(row, mode=UpdateMode.REPLACE)
    azure_store.events.create_entity({"PartitionKey": _h("done"), "RowKey": MARKER, "id": "done"})
    assert azure_store.counts()["events"] == 1  # the marker counts the old one taken in
    [done] = azure_store.ingest([(event("done"), notes("done", 1))], T0 + 5)
    assert not done.new and azure_store.duplicates_of("done")[0] == 1
    [halfway] = azure_store.ingest([(event("halfway"), notes("halfway", 1))], T0 + 5)
    assert halfway.new and [n.id for n in halfway.notifications] == ["halfway-n0"]
    assert azure_store.counts()["events"] == 2
    assert [e.id for e, _ in azure_store.list_events(EventFilter()).events] == ["halfway", "done"]


def test_ingest_interrupted_early_leaves_nothing_to_send(azure_store, monkeypatch):
    monkeypatch.setattr(azure_store.notifications, "create_entity", lambda e, **kw: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        azure_store.ingest([(event("e1"), notes("e1", 3))], T0)
    monkeypatch.undo()
    assert azure_store.counts() == {"events": 0, "pending": 0, "sent": 0, "dead": 0, "held": 0}
    [again] = azure_store.ingest([(event("e1"), notes("e1", 3))], T0 + 5)
    assert again.new and len(again.notifications) == 3
    assert azure_store.counts() == {"events": 1, "pending": 3, "sent": 0, "dead": 0, "held": 0}


def test_racing_instances_take_an_event_in_once(azure_settings, azure_store):
    other = twin(azure_settings)
    barrier = threading.Barrier(2)
    results: dict[str, list] = {}

    def intake(name: str, store: AzureStore):
        out = []
        for i in range(5):
            barrier.wait()
            out += store.ingest([(event(f"e{i}"), notes(f"e{i}", 3))], T0)
        results[name] = out

    threads = [threading.Thread(target=intake, args=(name, s)) for name, s in (("a", azure_store), ("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(5):
        a, b = results["a"][i], results["b"][i]
        assert [a.new, b.new].count(True) == 1
        winner = a if a.new else b
        assert sorted(n.id for n in winner.notifications) == [f"e{i}-n{k}" for k in range(3)]
    assert azure_store.counts() == {"events": 5, "pending": 15, "sent": 0, "dead": 0, "held": 0}
    other.close()


def test_racing_instances_take_a_batch_in_once_with_one_list_row_an_event(azure_settings, azure_store):
    """Two instances take the same batch in at once, each at its own instant (as Event Grid's
    redelivery of a batch still being taken in would): each event is new for exactly one of them,
    and has one event-list row, at the instant its record holds."""
    other = twin(azure_settings)
    barrier = threading.Barrier(2)
    results: dict[str, list] = {}

    def intake(name: str, store: AzureStore, now: float):
        batch = [(event(f"b{i}"), notes(f"b{i}", 1)) for i in range(20)]
        barrier.wait()
        results[name] = store.ingest(batch, now)

    threads = [threading.Thread(target=intake, args=a) for a in (("a", azure_store, T0), ("b", other, T0 + 1))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(results["a"], results["b"]):
        assert [a.new, b.new].count(True) == 1
    rows = list(azure_store.events.query_entities("PartitionKey ge @lo and PartitionKey lt @hi",
                                                  parameters={"lo": LIST, "hi": LIST + "~"}))
    assert sorted(r["id"] for r in rows) == sorted(f"b{i}" for i in range(20))
    for r in rows:
        assert azure_store.events.get_entity(_h(r["id"]), BODY)["received_at"] == r["received_at"]
    assert azure_store.counts() == {"events": 20, "pending": 20, "sent": 0, "dead": 0, "held": 0}
    assert len(azure_store.list_events(EventFilter(), limit=50).events) == 20
    other.close()


def test_claim_by_ids_leases_the_due_ones_up_to_the_limit_and_keeps_those_leased_when_one_fails(
        azure_store, monkeypatch, caplog):
    """A queue message names several notifications: the earliest due ones up to the limit are
    leased (the rest stay as they were); a lease that fails leaves its notification to the sweep
    and the others are claimed; when every lease fails, the error is raised (the message retried)."""
    azure_store.ingest([(event("e1"), notes("e1", 5))], T0)
    ids = [f"e1-n{k}" for k in range(5)]
    assert [n.id for n in azure_store.claim(T0, 2, 30, "A", ids)] == ids[:2]  # the earliest due first (by id here)
    assert [azure_store.get(i).lease_owner for i in ids] == ["A", "A", "", "", ""]
    lease = azure_store._lease

    def flaky(e, owner, until):
        if e["id"] == "e1-n3":
            raise ConnectionError("storage unreachable")
        return lease(e, owner, until)

    monkeypatch.setattr(azure_store, "_lease", flaky)
    with caplog.at_level(logging.WARNING, logger="alertrouter.store.azure"):
        got = azure_store.claim(T0, 10, 30, "B", ids)
    assert sorted(n.id for n in got) == ["e1-n2", "e1-n4"]  # n0 and n1 are A's
    assert "1 of 3 leases failed (ConnectionError" in caplog.text
    with pytest.raises(ConnectionError):
        azure_store.claim(T0, 10, 30, "C", ["e1-n3"])
    monkeypatch.undo()
    assert [n.id for n in azure_store.claim(T0, 10, 30, "C", ids)] == ["e1-n3"]


def test_instances_never_claim_the_same_notification(azure_settings, azure_store):
    azure_store.ingest([(event(f"e{i}"), notes(f"e{i}", 6)) for i in range(5)], T0)
    stores = [azure_store, twin(azure_settings), twin(azure_settings)]
    got: dict[int, list[str]] = {}

    def worker(k: int):
        mine = []
        while batch := stores[k].claim(T0, 4, 30, f"instance{k}"):
            mine += [n.id for n in batch]
        got[k] = mine

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for mine in got.values() for i in mine]
    assert len(ids) == 30 and len(set(ids)) == 30
    for s in stores[1:]:
        s.close()


def test_finish_after_the_lease_was_taken_over_records_nothing(azure_store):
    azure_store.ingest([(event("e1"), notes("e1", 1))], T0)
    [a] = azure_store.claim(T0, 10, 30, "A")
    [b] = azure_store.claim(T0 + 31, 10, 30, "B")  # A's lease ran out
    assert not azure_store.finish(a, "A", Attempt(a.id, 1, T0 + 32, "delivered", "late"), "sent", T0, T0 + 32)
    azure_store.release([a.id], "A")  # not A's any more: nothing happens
    assert azure_store.get(a.id).lease_owner == "B"
    assert azure_store.finish(b, "B", Attempt(b.id, 1, T0 + 33, "delivered", "ok"), "sent", T0, T0 + 33)
    assert [x.detail for x in azure_store.history(a.id)] == ["ok"]
    assert not azure_store.finish(b, "", Attempt(b.id, 2, T0 + 34, "delivered", "x"), "sent", T0, T0 + 34)


def test_first_time_is_the_earliest_instant(azure_store):
    plus2 = timezone(timedelta(hours=2))
    early = event("s1", kind="run.started", fingerprint="run:9").model_copy(
        update={"time": datetime(2026, 11, 20, 11, 30, tzinfo=plus2)})  # 09:30 UTC
    late = event("s2", kind="run.started", fingerprint="run:9").model_copy(
        update={"time": datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)})
    azure_store.ingest([(late, []), (early, [])], T0)
    assert azure_store.first_time("run:9", "run.started") == early.time


def test_purge_takes_events_and_their_index_rows(azure_store):
    azure_store.ingest([(event("old", kind="run.started", fingerprint="run:1"), notes("old", 2)),
                        (event("bare", fingerprint="run:2"), [])], T0)
    for n in azure_store.claim(T0, 10, 30, "A"):
        azure_store.finish(n, "A", Attempt(n.id, 1, T0, "failed", "HTTP 400"), "dead", T0, T0)
    assert azure_store.purge(T0 + 1) == 2
    assert azure_store.counts() == {"events": 0, "pending": 0, "sent": 0, "dead": 0, "held": 0}
    assert azure_store.get_event("old") is None and azure_store.first_time("run:1", "run.started") is None
    assert list(azure_store.events.list_entities()) == []
    assert list(azure_store.attempts.list_entities()) == []


def test_enqueue_is_base64_text_and_honours_the_delay(azure_settings, azure_store):
    ids = [f"n_{i}" for i in range(20)]
    azure_store.enqueue(ids + ["n_1"])  # an id given twice is named once
    azure_store.enqueue(["n_later"], delay_seconds=30)
    plain = QueueClient.from_connection_string(azure_settings.connection_string, azure_settings.queue_name)
    got = [m.content for m in plain.receive_messages(max_messages=10, visibility_timeout=1)]
    lines = sorted((base64.b64decode(c).decode().split("\n") for c in got), key=len)  # what the host decodes
    assert [len(part) for part in lines] == [4, 16] and sorted(sum(lines, [])) == sorted(ids)
    assert plain.get_queue_properties().approximate_message_count == 3
    plain.close()


def test_dispatcher_on_the_azure_store(azure_store, tmp_path, httpserver, monkeypatch):
    monkeypatch.setenv("CAPTURE_URL", httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data("", status=202)
    app = App(loads(CAPTURE_CONFIG, "capture.yaml"), tmp_path / "data", store=azure_store)
    queued: list[str] = []
    app.listeners.append(lambda ns: queued.extend(n.id for n in ns))
    result = app.ingest([event("e1"), event("e1")])
    assert (len(result.accepted), len(result.duplicates), len(queued)) == (1, 1, 1)
    assert dispatcher_for(app, workers=1).run_once(queued) == 1
    assert len(captured(httpserver, 1)) == 1
    assert azure_store.get(queued[0]).status == "sent"
    assert [a.status for a in azure_store.history(queued[0])] == ["delivered"]


def test_settings_need_a_way_in():
    with pytest.raises(ValueError, match="CONNECTION_STRING or ALERTROUTER_AZURE__ACCOUNT_NAME"):
        AzureStore.from_settings(AzureStorage())
    with pytest.raises(ValueError, match="queue name"):
        AzureStore.from_settings(AzureStorage(account_name="acct", queue_name="Bad_Queue"))
    with pytest.raises(ValueError, match="table prefix"):
        AzureStore.from_settings(AzureStorage(account_name="acct", table_prefix="bad-prefix"), create=False)


def test_a_bad_connection_string_is_not_echoed():
    secret = "AccountKey=c2VjcmV0LWtleS1uZXZlci1wcmludGVk"
    with pytest.raises(ValueError) as err:
        AzureStore.from_settings(AzureStorage(connection_string=f"garbage;{secret}"), create=False)
    assert "c2VjcmV0" not in str(err.value) and err.value.__cause__ is None
    assert err.value.__suppress_context__


def test_managed_identity_and_development_storage_endpoints():
    mi = AzureStore.from_settings(AzureStorage(account_name="acct123"), create=False)
    assert mi.events.url.startswith("https://acct123.table.core.windows.net")
    assert mi.queue.url == "https://acct123.queue.core.windows.net/alertrouter-deliveries"
    assert mi.table_names == {"events": "alertrouterEvents", "notifications": "alertrouterNotifications",
                              "attempts": "alertrouterAttempts", "state": "alertrouterState"}
    dev = AzureStore.from_settings(AzureStorage(connection_string="UseDevelopmentStorage=true"), create=False)
    assert dev.events.url.startswith("http://127.0.0.1:10002/devstoreaccount1")
    assert dev.queue.url.startswith("http://127.0.0.1:10001/devstoreaccount1/alertrouter-deliveries")


def test_the_key_never_reaches_the_logs(azure_settings, caplog):
    with caplog.at_level(logging.DEBUG):
        store = AzureStore.from_settings(azure_settings, retry_total=1)
        store.ingest([(event("e1"), notes("e1", 1))], T0)
        store.claim(T0, 10, 30, "A")
        store.enqueue(["n_1"])
        store.close()
    assert caplog.records  # the SDK did log its requests…
    assert KEY not in caplog.text and KEY[:20] not in caplog.text  # …but never the key


def test_oldest_pending_and_next_due(azure_store):
    assert azure_store.oldest_pending() is None and azure_store.next_due() is None
    azure_store.ingest([(event("a"), notes("a", 1))], T0)
    azure_store.ingest([(event("b"), notes("b", 1))], T0 + 10)
    assert azure_store.oldest_pending() == T0
    [n] = azure_store.claim(T0, 1, 30, "A")
    assert azure_store.next_due() == T0 + 10  # the other one; the claimed one is leased until T0 + 30
    azure_store.finish(n, "A", Attempt(n.id, 1, T0, "delivered", "ok"), "sent", T0, T0)
    assert azure_store.oldest_pending() == T0 + 10


def test_the_router_logs_do_not_carry_a_line_per_storage_request(azure_store, capfd):
    """The SDK logs each request (URL, every header) at INFO; with the router's logging set up only
    the router's lines are written."""
    from alertrouter import logs

    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger(logs.AZURE_HTTP_LOGGER).level
    try:
        logs.setup("text", logging.INFO)
        azure_store.ingest([(event("quiet"), notes("quiet", 1))], T0)
        assert azure_store.get_event("quiet") is not None
        logging.getLogger("alertrouter.test").info("router line")
        err = capfd.readouterr().err
    finally:
        root.handlers[:], _, _ = saved
        root.setLevel(saved[1])
        logging.getLogger(logs.AZURE_HTTP_LOGGER).setLevel(saved[2])
    assert "router line" in err
    assert "Request URL" not in err and "Response status" not in err


def test_the_sdk_reads_the_environment_per_request_only_where_it_holds_a_setting(azure_settings, monkeypatch,
                                                                                 tmp_path):
    """Without proxy, CA-bundle or .netrc settings the SDK's session is told not to re-read the
    environment for each request; with one, the SDK's default transport reads it as before."""
    import os

    from alertrouter.store import azure as az

    for k in list(os.environ):
        if k.lower() in az.ENVIRONMENT_SETTINGS:
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))
    quiet = az._transport()["transport"]
    quiet.open()
    assert quiet.session.trust_env is False
    quiet.close()
    store = AzureStore.from_settings(azure_settings, retry_total=1)  # and it works, on Azurite
    store.ingest([(event("env"), notes("env", 1))], T0)
    assert store.get_event("env") is not None
    store.close()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert az._transport() == {}
    monkeypatch.delenv("HTTPS_PROXY")
    (tmp_path / ".netrc").write_text("machine example.invalid login a password b\n")
    assert az._transport() == {}


def test_a_ca_bundle_in_the_environment_is_given_to_the_sdk_once_instead_of_read_per_request(
        azure_settings, monkeypatch, tmp_path):
    """REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) alone does not make the SDK re-read the environment for
    every request: the bundle is handed to its transport, which verifies against it as requests would."""
    import os

    from alertrouter.store import azure as az

    for k in list(os.environ):
        if k.lower() in az.ENVIRONMENT_SETTINGS:
            monkeypatch.delenv(k)
    monkeypatch.setenv("HOME", str(tmp_path))
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read until a TLS connection is made\n")
    monkeypatch.setenv("CURL_CA_BUNDLE", str(tmp_path / "other.pem"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))  # requests prefers it to CURL_CA_BUNDLE
    transport = az._transport()["transport"]
    transport.open()
    assert transport.session.trust_env is False
    assert transport.connection_config.verify == str(bundle)
    transport.close()
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert az._transport()["transport"].connection_config.verify == str(tmp_path / "other.pem")
    store = AzureStore.from_settings(azure_settings, retry_total=1)  # Azurite is plain HTTP: it works
    store.ingest([(event("bundle"), notes("bundle", 1))], T0)
    assert store.get_event("bundle") is not None
    store.close()
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")  # a proxy: the SDK's default again
    assert az._transport() == {}


def test_finish_writes_the_result_without_reading_the_notification_back(azure_settings):
    """The claim's own write returned the entity's etag: finish updates on it (If-Match), the attempt
    in the same row, one request; when the etag is stale the entity is read as before."""
    from azure.core.pipeline.transport import RequestsTransport

    seen: list[str] = []

    class Counting(RequestsTransport):  # the SDK's own transport, noting each request's method
        def send(self, request, **kwargs):
            seen.append(request.method)
            return super().send(request, **kwargs)

    store = AzureStore.from_settings(azure_settings, retry_total=1, transport=Counting())
    store.ingest([(event("e1"), notes("e1", 2))], T0)
    a, b = store.claim(T0, 10, 30, "A")
    seen.clear()
    assert store.finish(a, "A", Attempt(a.id, 1, T0 + 1, "delivered", "HTTP 202"), "sent", T0 + 1, T0 + 1)
    assert seen == ["PATCH"]  # the conditional update, holding the attempt
    store.release([b.id], "A")
    [b] = store.claim(T0 + 2, 10, 30, "A")
    other = twin(azure_settings)
    other.defer(b.id, "A", T0 + 3, "deferred elsewhere", T0 + 2)  # changes the entity behind A's back
    [b] = store.claim(T0 + 3, 10, 30, "A")
    assert store.finish(b, "A", Attempt(b.id, 1, T0 + 4, "delivered", "ok"), "sent", T0 + 4, T0 + 4)
    got = store.get(b.id)
    assert (got.status, got.attempts, got.lease_owner) == ("sent", 1, "")
    assert [(h.number, h.detail) for h in store.history(b.id)] == [(1, "ok")]
    store.close()
    other.close()


def test_the_first_time_index_holds_run_starts_only(azure_store):
    """first_time is asked about run.started (a run's duration; an alert's comes from its state
    document): other kinds, firing alerts too, write no index row, and asking about one is a
    programming error, not a silent None."""
    azure_store.ingest([(event("r1", kind="run.started", fingerprint="run:5"), []),
                        (event("r2", kind="run.failed", fingerprint="run:5"), []),
                        (event("a1", kind="alert.fired", fingerprint="alert:5"), [])], T0)
    rows = list(azure_store.events.query_entities("PartitionKey ge 'first-' and PartitionKey lt 'first.'"))
    assert [r["event_id"] for r in rows] == ["r1"]
    assert azure_store.first_time("run:5", "run.started") is not None
    for kind in ("run.failed", "alert.fired"):
        with pytest.raises(ValueError, match="run.started"):
            azure_store.first_time("run:5", kind)


def test_a_batch_is_taken_in_concurrently_in_order_and_a_repeated_id_once(azure_store):
    items = [(event(f"b{i}"), notes(f"b{i}")) for i in range(12)]
    items.insert(5, (event("b1"), notes("b1")))  # a repeat of an earlier one, mid-batch
    items.append((event("b0"), notes("b0")))
    outcomes = azure_store.ingest(items, T0)
    assert [o.new for o in outcomes] == [True] * 5 + [False] + [True] * 7 + [False]
    assert [sorted(n.id for n in o.notifications) for o in outcomes[:2]] == [["b0-n0", "b0-n1"], ["b1-n0", "b1-n1"]]
    assert azure_store.counts()["pending"] == 24 and azure_store.counts()["events"] == 12


def test_event_list_through_its_index_and_the_events_stored_before_it(azure_settings):
    """Events stored before the event list had its index rows are still listed, after the indexed
    ones, through a scan; a purge takes the index rows with the events."""
    from tests.store.test_console_queries import event as labelled

    old = AzureStore.from_settings(azure_settings, retry_total=1)
    old.ingest([(labelled(f"old{i}", experiment="churn"), notes(f"old{i}", 1)) for i in range(3)], T0)
    rows = list(old.events.query_entities("PartitionKey ge 'ls-' and PartitionKey lt 'ls.'"))
    assert len(rows) == 3
    for r in rows:  # as a store written before the index: no rows, no mark
        old.events.delete_entity(r["PartitionKey"], r["RowKey"])
    old.state.delete_entity("lsmeta", "since")
    old.close()
    store = AzureStore.from_settings(azure_settings, retry_total=1)
    store.ingest([(labelled(f"new{i}", experiment="churn" if i else "fraud"), notes(f"new{i}", 1))
                  for i in range(2)], T0 + 10)
    first = store.list_events(EventFilter(labels=(("experiment", "churn"),)), limit=2)
    assert [e.id for e, _ in first.events] == ["new1", "old2"] and first.next_cursor
    rest = store.list_events(EventFilter(labels=(("experiment", "churn"),)), first.next_cursor, limit=5)
    assert [e.id for e, _ in rest.events] == ["old1", "old0"] and rest.next_cursor == ""
    for n in store.claim(T0 + 20, 10, 30, "A"):
        store.finish(n, "A", Attempt(n.id, 1, T0 + 20, "delivered", "HTTP 200"), "sent", T0 + 20, T0 + 20)
    store.purge(T0 + 100)
    assert list(store.events.query_entities("PartitionKey ge 'ls-' and PartitionKey lt 'ls.'")) == []
    assert store.list_events(EventFilter()).events == []
    store.close()


def test_an_interrupted_intake_leaves_no_second_entry_in_the_event_list(azure_store, monkeypatch):
    create = azure_store.events.create_entity
    monkeypatch.setattr(azure_store.events, "create_entity",  # the list row, the last write
                        lambda e, **kw: 1 / 0 if e["PartitionKey"].startswith(LIST) else create(e, **kw))
    with pytest.raises(ZeroDivisionError):
        azure_store.ingest([(event("e1"), notes("e1", 1))], T0)
    monkeypatch.undo()
    azure_store.ingest([(event("e1"), notes("e1", 1))], T0 + 5)  # the retry, at another instant
    # finished where it began: the record and its one list row keep the first attempt's instant
    assert [(e.id, at) for e, at in azure_store.list_events(EventFilter()).events] == [("e1", T0)]


def test_event_list_filters_on_labels_too_long_for_the_index_row(azure_store):
    from tests.store.test_console_queries import event as labelled

    big = labelled("big", experiment="churn", notes="x" * 40_000)
    azure_store.ingest([(big, notes("big", 1)), (labelled("small", experiment="fraud"), notes("small", 1))], T0)
    page = azure_store.list_events(EventFilter(labels=(("experiment", "churn"),)))
    assert [e.id for e, _ in page.events] == ["big"] and page.events[0][0].labels["notes"] == "x" * 40_000
