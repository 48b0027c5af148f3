"""A channel that keeps failing is marked down (an event says so), its notices wait without spending
attempts, one notice probes it, and the first success marks it up again (another event)."""

from __future__ import annotations

from werkzeug import Response

from alertrouter.app import App
from alertrouter.build import dispatcher_for
from alertrouter.config.load import loads
from tests.conftest import Clock, distinct_alerts

CONFIG = """
channels:
  hook: {type: webhook, url: "${HOOK_URL}", retry: {max_attempts: 50, backoff_seconds: 1, max_backoff_seconds: 1}}
roles:
  se: {channels: [hook]}
  ops: {channels: [log]}
routes:
  - {name: health, match: {source: router}, roles: [ops]}
  - {name: all, match: {}, roles: [se]}
"""


alerts = distinct_alerts


def test_down_wait_probe_up(tmp_path, receiver):
    up = {"ok": False}
    receiver.expect_request("/hook").respond_with_handler(
        lambda r: Response("", status=202 if up["ok"] else 503))
    clock = Clock()
    app = App(loads(CONFIG, str(tmp_path / "r.yaml"), env={"HOOK_URL": receiver.url_for("/hook")}),
              tmp_path / "data", clock=clock)
    app.ingest(alerts(8))
    d = dispatcher_for(app, workers=1, clock=clock, rand=lambda: 1.0)
    d.run_once()                                   # 8 failures within a second: a burst, not an outage
    assert app.health.down() == {}
    clock.t += 40
    d.run_once()                                   # failing for 40 s: down after the first; the other 7 wait
    kinds = [app.store.get_event(n.event_id).kind for n in app.store.list(limit=100)]
    assert kinds.count("channel.down") == 1
    assert app.health.down().keys() == {"hook"}
    waiting = [n for n in app.store.list("pending", limit=100) if n.last_detail == "waiting: channel hook is down"]
    attempts_before = {n.id: n.attempts for n in app.store.list("pending", limit=100) if n.channel == "hook"}
    clock.t += 2
    d.run_once()                                   # due again, but the channel is down: no sends, no attempts
    assert {n.id: n.attempts for n in app.store.list("pending", limit=100) if n.channel == "hook"} == attempts_before
    assert len(receiver.log) == 9 and len(waiting) == 7
    up["ok"] = True
    clock.t += 61                                  # probe time: one notice probes, succeeds, the rest follow
    for _ in range(4):
        d.run_once()
        clock.t += 2
    assert app.health.down() == {}
    kinds = [app.store.get_event(n.event_id).kind for n in app.store.list(limit=100)]
    assert kinds.count("channel.up") == 1
    assert [n for n in app.store.list("pending", limit=100) if n.channel == "hook"] == []
    assert len([n for n in app.store.list("sent", limit=100) if n.channel == "hook"]) == 8
