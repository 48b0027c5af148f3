"""The delivery functions (queue trigger and timer sweep), called with the library's own trigger
objects against an App on a temporary SQLite store."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from alertrouter.model import Event
from handlers import _runtime, deliveries
from tests.conftest import captured

deliver = deliveries.deliver.build().get_user_function()
sweep = deliveries.sweep.build().get_user_function()


def event(eid: str) -> Event:
    return Event(id=eid, source="azure-monitor", kind="alert.fired", severity="error", title=f"CPU high {eid}",
                 time=datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc), fingerprint=f"fp-{eid}",
                 labels={"alert_rule": "cpu"})


def timer(past_due: bool = False) -> TimerRequest:
    return TimerRequest(past_due=past_due, schedule_status={}, schedule={})


def message(body: bytes, mid: str = "m1") -> func.QueueMessage:
    return func.QueueMessage(id=mid, body=body, pop_receipt=None)


@pytest.fixture
def app(functions_env):
    """_runtime's App on a temporary config and data dir; intake does not deliver by itself here
    (as with the Azure store, where intake only enqueues)."""
    app = functions_env.api().app
    app.listeners.clear()
    return app


def pending(app, *eids: str) -> list[str]:
    result = app.ingest([event(e) for e in eids])
    return [n.id for n in result.notifications]


def test_bindings():
    fa = func.FunctionApp()
    fa.register_functions(deliveries.bp)
    bindings = {f.get_function_name(): json.loads(f.get_function_json())["bindings"] for f in fa.get_functions()}
    assert bindings == {
        "deliver": [{"direction": "IN", "type": "queueTrigger", "name": "msg",
                     "queueName": "%ALERTROUTER_AZURE__QUEUE_NAME%", "connection": "AzureWebJobsStorage"}],
        "sweep": [{"direction": "IN", "type": "timerTrigger", "name": "timer", "schedule": "0 */1 * * * *"}],
    }


def test_deliver_sends_the_named_notification_once(app, httpserver):
    [nid] = pending(app, "e1")
    deliver(message(nid.encode()))
    assert [b["data"]["title"] for b in captured(httpserver, 1)] == ["CPU high e1"]
    assert app.store.get(nid).status == "sent"
    deliver(message(f"{nid}\n".encode(), "m2"))  # a repeated message: already sent, nothing happens
    assert len(captured(httpserver, 1)) == 1


def test_deliver_leaves_other_notifications_alone(app, httpserver):
    first, second = pending(app, "e1", "e2")
    deliver(message(second.encode()))
    assert len(captured(httpserver, 1)) == 1
    assert (app.store.get(first).status, app.store.get(second).status) == ("pending", "sent")


def test_deliver_unknown_or_not_due_is_done_quietly(app, httpserver):
    deliver(message(b"n_0000000000000000000000000000dead"))
    assert captured(httpserver, 0) == []


def test_deliver_sends_every_notification_a_message_names(app, httpserver):
    """The store names an intake call's notifications in one message, one id a line; those not due
    (one sent already, one unknown) are left alone."""
    first, second, third = pending(app, "e1", "e2", "e3")
    deliver(message(first.encode()))
    assert len(captured(httpserver, 1)) == 1
    deliver(message(f"{first}\n{second}\r\n{third}\nn_0000000000000000000000000000dead\n".encode(), "m2"))
    assert sorted(b["data"]["title"] for b in captured(httpserver, 3)) == ["CPU high e1", "CPU high e2",
                                                                           "CPU high e3"]
    assert {app.store.get(i).status for i in (first, second, third)} == {"sent"}


@pytest.mark.parametrize("body", [b"", b"   ", b"\xff\xfe", b"x" * 2000, b"a\n\nb", b"a\nb\x00c",
                                  b"\n".join([b"n_1"] * 65)])
def test_deliver_rejects_a_malformed_message(app, body):
    with pytest.raises(ValueError, match="queue message m1"):  # → retried, then the poison queue
        deliver(message(body))


def test_deliver_lets_unexpected_errors_propagate(app, monkeypatch):
    [nid] = pending(app, "e1")

    def boom(ids=None):
        raise RuntimeError("store unreachable")

    monkeypatch.setattr(_runtime.dispatcher(), "run_once", boom)
    with pytest.raises(RuntimeError, match="store unreachable"):
        deliver(message(nid.encode()))


def test_sweep_delivers_everything_due(app, httpserver):
    ids = pending(app, "e1", "e2", "e3")
    sweep(timer(past_due=True))
    assert sorted(b["data"]["title"] for b in captured(httpserver, 3)) == ["CPU high e1", "CPU high e2",
                                                                           "CPU high e3"]
    assert {app.store.get(i).status for i in ids} == {"sent"}
    sweep(timer())  # nothing due: a no-op
    assert len(captured(httpserver, 3)) == 3


def test_sweep_runs_until_nothing_is_due(app, monkeypatch):
    results = iter([64, 64, 3, 0, 99])
    calls = []

    def run_once(ids=None):
        calls.append(ids)
        return next(results)

    monkeypatch.setattr(_runtime.dispatcher(), "run_once", run_once)
    sweep(timer())
    assert calls == [None, None, None, None]


def test_sweep_stops_at_its_time_budget(app, monkeypatch):
    calls = []
    monkeypatch.setattr(_runtime.dispatcher(), "run_once", lambda ids=None: calls.append(ids) or 5)
    monkeypatch.setattr(deliveries, "SWEEP_BUDGET_SECONDS", 0.0)
    sweep(timer())
    assert calls == [None]
