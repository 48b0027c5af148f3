"""Delivery from the outbox: backoff, Retry-After, dead letters, re-drive, fault injection against a
loopback receiver, and two dispatchers over one store."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections import Counter

import pytest
from werkzeug import Response

from alertrouter.app import App
from alertrouter.build import dispatcher_for
from alertrouter.config.load import loads
from alertrouter.config.base import RetryPolicy
from alertrouter.delivery.dispatcher import backoff
from tests.conftest import Clock, distinct_alerts, free_port

CONFIG = """
channels:
  hook:
    type: webhook
    url: ${HOOK_URL}
    timeout_seconds: 0.3
    retry: {max_attempts: MAX, backoff_seconds: 0.02, max_backoff_seconds: 0.1}
roles:
  everyone: {channels: [hook]}
routes:
  - {name: all, match: {}, roles: [everyone]}
"""


alerts = distinct_alerts


def make_app(tmp_path, url: str, max_attempts: int = 6) -> App:
    loaded = loads(CONFIG.replace("MAX", str(max_attempts)), str(tmp_path / "routing.yaml"), env={"HOOK_URL": url})
    return App(loaded, tmp_path / "data")


def drain(dispatcher, timeout: float = 20.0) -> None:
    """Run passes until nothing is pending, sleeping until the next one is due."""
    store = dispatcher.store
    deadline = time.monotonic() + timeout
    while store.counts()["pending"]:
        assert time.monotonic() < deadline, store.list("pending")
        if not dispatcher.run_once():
            due = store.next_due()
            time.sleep(min(0.2, max(0.005, (due or time.time()) - time.time())))


class Receiver:
    """Records each 2xx delivery by notification id; `plan(attempt) -> Response | None` injects faults."""

    def __init__(self, plan):
        self.plan = plan
        self.attempts: Counter[str] = Counter()
        self.delivered: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __call__(self, request):
        nid = json.loads(request.get_data())["data"]["notification_id"]
        with self.lock:
            self.attempts[nid] += 1
            attempt = self.attempts[nid]
        fault = self.plan(attempt)
        if fault is not None:
            return fault
        with self.lock:
            self.delivered[nid] += 1
        return Response("", status=202)


def slow_503(_):
    time.sleep(0.6)
    return Response("", status=503)


FAULTS = {
    "fails first 3": lambda a: Response("", status=503) if a <= 3 else None,
    "429 with Retry-After": lambda a: Response("", status=429, headers={"Retry-After": "1"}) if a == 1 else None,
    "500 then 502": lambda a: Response("", status=500 + 2 * (a - 1)) if a <= 2 else None,
    "times out once": lambda a: slow_503(a) if a == 1 else None,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_notification_arrives_exactly_once(fault, tmp_path, receiver):
    plan = Receiver(FAULTS[fault])
    receiver.expect_request("/hook").respond_with_handler(plan)
    app = make_app(tmp_path, receiver.url_for("/hook"))
    app.ingest(alerts(10))
    dispatcher = dispatcher_for(app, workers=4, lease_seconds=5)
    drain(dispatcher)
    dispatcher.stop()
    assert len(plan.delivered) == 10 and set(plan.delivered.values()) == {1}
    assert app.store.counts() == {"events": 10, "pending": 0, "sent": 10, "dead": 0, "held": 0}
    if fault == "429 with Retry-After":
        n = app.store.list("sent")[0]
        first, second = app.store.history(n.id)
        assert second.at - first.at >= 1.0  # waited at least Retry-After


def test_connection_refused_then_receiver_comes_up(tmp_path, receiver):
    port = free_port()
    app = make_app(tmp_path, f"http://127.0.0.1:{port}/hook", max_attempts=50)
    app.ingest(alerts(3))
    dispatcher = dispatcher_for(app, workers=2)
    dispatcher.run_once()
    assert {n.last_detail for n in app.store.list()} == {"webhook hook: connection failed"}
    app.channels["hook"]._url = receiver.url_for("/hook")  # the receiver is back (on another port)
    plan = Receiver(lambda a: None)
    receiver.expect_request("/hook").respond_with_handler(plan)
    drain(dispatcher)
    assert sorted(plan.delivered.values()) == [1, 1, 1]


def test_last_attempt_dead_letters_with_reason_and_history(tmp_path, receiver):
    receiver.expect_request("/hook").respond_with_data("", status=503)
    app = make_app(tmp_path, receiver.url_for("/hook"), max_attempts=3)
    app.ingest(alerts(1))
    drain(dispatcher_for(app, workers=1))
    [dead] = app.store.list("dead")
    assert dead.attempts == 3
    assert dead.last_detail == "gave up after 3 attempts: webhook hook: HTTP 503"
    assert [(a.number, a.status) for a in app.store.history(dead.id)] == [(1, "retry"), (2, "retry"), (3, "retry")]


def test_permanent_failure_dead_letters_at_once_and_redrive_sends_it(tmp_path, receiver):
    receiver.expect_ordered_request("/hook").respond_with_data("", status=400)
    receiver.expect_ordered_request("/hook").respond_with_data("", status=202)
    app = make_app(tmp_path, receiver.url_for("/hook"))
    app.ingest(alerts(1))
    dispatcher = dispatcher_for(app, workers=1)
    drain(dispatcher)
    [dead] = app.store.list("dead")
    assert (dead.attempts, dead.last_detail) == (1, "webhook hook: HTTP 400")
    assert app.store.redrive([dead.id], time.time()) == [dead.id]
    drain(dispatcher)
    assert app.store.get(dead.id).status == "sent"
    assert [a.status for a in app.store.history(dead.id)] == ["failed", "redriven", "delivered"]


def test_two_dispatchers_over_one_store_never_send_twice(tmp_path, receiver):
    plan = Receiver(lambda a: None)
    receiver.expect_request("/hook").respond_with_handler(plan)
    app = make_app(tmp_path, receiver.url_for("/hook"))
    app.ingest(alerts(60))
    # a second App over the same SQLite file: another process would look the same
    other = make_app(tmp_path, receiver.url_for("/hook"))
    d1, d2 = dispatcher_for(app, workers=4, batch=5), dispatcher_for(other, workers=4, batch=5)
    threads = [threading.Thread(target=drain, args=(d,)) for d in (d1, d2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(plan.delivered) == 60 and set(plan.delivered.values()) == {1}
    assert sum(plan.attempts.values()) == 60


def test_stop_releases_claimed_notifications_not_yet_started(tmp_path, receiver):
    receiver.expect_request("/hook").respond_with_data("", status=202)
    app = make_app(tmp_path, receiver.url_for("/hook"))
    app.ingest(alerts(3))
    d = dispatcher_for(app, workers=1)
    d.stop()  # stopping: whatever it claims now is handed back
    d._pool = None
    assert d.run_once() == 3
    assert app.store.counts()["pending"] == 3
    assert [n.lease_owner for n in app.store.list()] == ["", "", ""]


@pytest.mark.parametrize("done,retry_after,rand,expected", [
    (1, None, 0.0, 2.5),      # 5 s × jitter 0.5
    (1, None, 1.0, 5.0),
    (3, None, 1.0, 20.0),     # 5 × 2²
    (20, None, 1.0, 3600.0),  # capped
    (1, 90.0, 0.0, 90.0),     # Retry-After wins when longer
    (3, 1.0, 1.0, 20.0),      # and not when shorter
])
def test_backoff(done, retry_after, rand, expected):
    assert backoff(RetryPolicy(), done, retry_after, rand) == expected


class _Timed(http.server.BaseHTTPRequestHandler):
    """Keep-alive receiver that takes `delay` per request and records how many were in flight at once."""
    protocol_version = "HTTP/1.1"
    delay = 0.0
    state: dict = {}
    lock = threading.Lock()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.state["now"] += 1
            self.state["peak"] = max(self.state["peak"], self.state["now"])
        time.sleep(self.delay)
        with self.lock:
            self.state["now"] -= 1
            self.state["seen"] += 1
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def timed():
    servers = []

    def start(delay: float):
        state = {"now": 0, "peak": 0, "seen": 0}
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("T", (_Timed,), {"delay": delay,
                                                                                          "state": state}))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}/hook", state

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_slow_channel_gets_concurrent_sends_over_at_most_four_lanes(tmp_path, timed):
    url, state = timed(0.08)
    app = make_app(tmp_path, url)
    app.ingest(alerts(12))
    d = dispatcher_for(app, workers=8, batch=12)
    assert d.run_once() == 12
    assert app.store.counts()["sent"] == 12, [(n.status, n.last_detail) for n in app.store.list(limit=20)]
    assert state["seen"] == 12 and 1 < state["peak"] <= 4  # concurrent, never more than four at once


def test_a_fast_channel_is_sent_to_in_order_from_the_dispatcher_thread(tmp_path, timed):
    url, state = timed(0.0)
    app = make_app(tmp_path, url)
    app.ingest(alerts(2))
    d = dispatcher_for(app, workers=8, batch=10)
    d.slow_send = 0.25  # "fast" whatever this machine is doing meanwhile
    assert d.run_once() == 2  # not measured yet: concurrently, and now it is known to be fast
    app.ingest(alerts(10)[2:])
    state["peak"] = 0
    threads = set()
    real = d._attempt
    d._attempt = lambda n: (threads.add(threading.current_thread().name), real(n))[1]
    assert d.run_once() == 8
    assert state["peak"] == 1 and threads == {threading.current_thread().name}
    assert app.store.counts()["sent"] == 10


def test_a_long_pass_hands_back_what_its_lease_would_not_cover(tmp_path, timed):
    """With a slow receiver a pass can outlast its leases; a notification whose lease has less time
    left than its channel's timeout is handed back unsent (no attempt spent), and a later pass sends
    it: every alert arrives once."""
    url, state = timed(0.25)
    app = make_app(tmp_path, url)  # the channel's timeout: 0.3 s
    app.ingest(alerts(8))
    d = dispatcher_for(app, workers=1, batch=8, lease_seconds=1.0)
    assert d.run_once() == 8
    first = app.store.counts()["sent"]
    assert 1 <= first < 8
    assert {n.attempts for n in app.store.list("pending", limit=20)} == {0}  # handed back, not failed
    drain(d)
    assert app.store.counts()["sent"] == 8 and state["seen"] == 8


GROUPED = """
channels:
  hook: {type: webhook, url: "${HOOK_URL}"}
roles:
  everyone: {channels: [hook]}
routes:
  - {name: storm, match: {}, roles: [everyone], group_by: [alert_rule], group_wait: 0.3s, group_interval: 5m}
"""


def test_a_group_notice_goes_out_when_its_group_wait_ends(tmp_path, receiver):
    """Groups are flushed once a second, and also as soon as a notice this process scheduled is due:
    a 0.3 s group_wait is not stretched to the next second."""
    receiver.expect_request("/hook").respond_with_data("", status=202)
    clock = Clock()
    loaded = loads(GROUPED, str(tmp_path / "routing.yaml"), env={"HOOK_URL": receiver.url_for("/hook")})
    app = App(loaded, tmp_path / "data", clock=clock)
    d = dispatcher_for(app, workers=1, clock=clock)
    assert d.run_once() == 0  # the first pass ticks: nothing to flush yet
    app.ingest(alerts(3))
    clock.t += 0.2
    assert d.run_once() == 0  # still inside group_wait
    clock.t += 0.1
    assert d.run_once() == 1  # due now: flushed and sent in this pass, 0.7 s before the next tick
    [notice] = [json.loads(r.get_data())["data"] for r, _ in receiver.log]
    assert "3 firing" in notice["title"]


def test_the_dispatcher_works_from_its_parts_without_an_app(tmp_path, receiver):
    """Given a store, the channels, the config, a renderer and health, it sends what the outbox holds
    and hands the channel.down event it raises to `report` (the app's intake, when built by build())."""
    from alertrouter.channels.build import build_channels
    from alertrouter.delivery.dispatcher import Dispatcher
    from alertrouter.delivery.health import ChannelHealth
    from alertrouter.delivery.notification import NotificationRenderer, notification_id
    from alertrouter.metrics import Metrics
    from alertrouter.rendering.renderer import Renderer
    from alertrouter.config.types import Target
    from alertrouter.store.base import Notification
    from alertrouter.store.sqlite import SqliteStore

    receiver.expect_request("/hook").respond_with_data("", status=503)
    loaded = loads(CONFIG.replace("MAX", "9"), str(tmp_path / "routing.yaml"), env={"HOOK_URL": receiver.url_for("/hook")})
    store, clock = SqliteStore(tmp_path / "store.db"), Clock()
    [event] = alerts(1)
    target = Target("all", "everyone", "hook")
    store.ingest([(event, [Notification(notification_id(event.id, target), event.id, "all", "everyone", "hook")])],
                 clock())
    raised: list = []
    d = Dispatcher(store, build_channels(loaded, tmp_path), loaded, workers=1, clock=clock, rand=lambda: 0.0,
                   render=NotificationRenderer(loaded, Renderer(), store, lambda *_: None, clock),
                   event=store.get_event, health=ChannelHealth(store, threshold=2, min_outage=0), metrics=Metrics(),
                   report=raised.extend)
    for _ in range(2):
        assert d.run_once() == 1
        clock.t += 1
    [n] = store.list()
    assert (n.status, n.attempts) == ("pending", 2)
    assert [e.kind for e in raised] == ["channel.down"]
    assert json.loads(receiver.log[0][0].get_data())["data"]["title"] == event.title
    store.close()

