"""Delivery pacing: a channel's sends spread to its rate limit (its own, or the receiver's documented
one), over-limit notifications handed back without spending an attempt and sent when their slot
opens, against a loopback Teams receiver."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from alertrouter.app import App
from alertrouter.build import dispatcher_for
from alertrouter.config.load import loads
from alertrouter.config.types import RateLimit, parse_rate_limit
from alertrouter.delivery.pacing import Pacer, limit_of
from alertrouter.errors import ConfigError
from tests.conftest import Clock, distinct_alerts

T0 = 1_800_000_000.0


@pytest.mark.parametrize("spec, count, per, shown", [
    ("4/1s", 4, 1.0, "4/1s"), ("4/s", 4, 1.0, "4/1s"), ("120/1m", 120, 60.0, "120/1m"), (" 120 / m ", 120, 60.0, "120/1m"),
    ("10000/10m", 10_000, 600.0, "10000/10m"), ("100/1h", 100, 3600.0, "100/1h"), ("3/2.5s", 3, 2.5, "3/2.5s"),
])
def test_rate_limit_specs(spec, count, per, shown):
    limit = parse_rate_limit(spec)
    assert (limit.count, limit.per, str(limit)) == (count, per, shown)


@pytest.mark.parametrize("spec", [0, "0", "none", "off"])
def test_no_limit(spec):
    assert parse_rate_limit(spec) == RateLimit(0, 0.0)


def config(extra: str = "") -> str:
    return f"""
channels:
  teams: {{type: teams, url: "${{TEAMS_URL}}"{extra}}}
  pager: {{type: pagerduty, routing_key: k, url: "http://127.0.0.1:9/pd"}}
  hook: {{type: webhook, url: "http://127.0.0.1:9/hook"}}
  mail: {{type: email, tenant_id: t, client_id: c, client_secret: s, sender: a@example.invalid}}
roles:
  se: {{channels: [teams]}}
routes:
  - {{name: all, match: {{}}, roles: [se]}}
"""


@pytest.mark.parametrize("spec", ["fast", "4", "0/1s", "4/0s", "4/1d", "-1/1s"])
def test_a_bad_rate_limit_is_a_config_error_naming_the_line(spec):
    with pytest.raises(ConfigError) as err:
        loads(config(f", rate_limit: '{spec}'"), "routing.yaml", env={"TEAMS_URL": "http://x.invalid"})
    assert "routing.yaml:3 channels.teams.rate_limit" in str(err.value)
    assert "write sends per period like 4/1s, 120/1m or 10000/10m" in str(err.value)


def test_documented_limits_by_default_and_overrides():
    loaded = loads(config(), "r.yaml", env={"TEAMS_URL": "http://x.invalid"})
    limits = {name: limit_of(cfg) for name, cfg in loaded.config.channels.items()}
    assert limits == {"teams": RateLimit(4, 1.0), "pager": RateLimit(120, 60.0), "hook": None,
                      "mail": RateLimit(10_000, 600.0)}
    off = loads(config(", rate_limit: 0"), "r.yaml", env={"TEAMS_URL": "http://x.invalid"})
    assert limit_of(off.config.channels["teams"]) is None
    mine = loads(config(", rate_limit: 1/2s"), "r.yaml", env={"TEAMS_URL": "http://x.invalid"})
    assert limit_of(mine.config.channels["teams"]) == RateLimit(1, 2.0)


def test_the_pacer_keeps_every_window_within_the_limit_and_a_slot_for_each_deferred_one():
    p, limit = Pacer(), RateLimit(2, 1.0)
    assert [p.reserve("c", f"n{i}", limit, T0) for i in range(5)] == [0.0, 0.0, 1.0, 1.0, 2.0]
    assert p.reserve("c", "n2", limit, T0 + 0.5) == 0.5  # its slot, not a new one
    assert p.reserve("c", "n2", limit, T0 + 1.0) == 0.0 and p.reserve("c", "n3", limit, T0 + 1.0) == 0.0
    assert p.reserve("c", "late", limit, T0 + 1.0) == 1.0  # at +2 beside n4: (+1, +2] holds two
    assert p.reserve("other", "x", limit, T0) == 0.0  # channels are paced apart
    assert p.reserve("c", "n4", limit, T0 + 2.0) == 0.0
    assert p.reserve("c", "fresh", limit, T0 + 10.0) == 0.0  # the window moved on


def test_a_burst_to_teams_goes_out_at_its_rate_each_notification_attempted_once(tmp_path, httpserver, caplog):
    httpserver.expect_request("/teams").respond_with_data("", status=202)
    clock = Clock(T0)
    loaded = loads(config(", rate_limit: 2/1s"), str(tmp_path / "r.yaml"), env={"TEAMS_URL": httpserver.url_for("/teams")})
    app = App(loaded, tmp_path / "data", clock=clock)
    app.ingest(distinct_alerts(6))
    d = dispatcher_for(app, workers=1, batch=10, clock=clock)
    rescheduled = []
    d.on_retry_scheduled = lambda n, delay: rescheduled.append(delay)  # the queue-driven host enqueues these

    with caplog.at_level(logging.INFO, logger="alertrouter.dispatch"):
        assert d.run_once() == 6
    assert len(httpserver.log) == 2
    waiting = app.store.list("pending", limit=10)
    assert len(waiting) == 4 and {n.attempts for n in waiting} == {0}  # handed back, no attempt spent
    assert {n.last_detail for n in waiting} == {"waiting: channel teams is at its rate limit (2/1s)"}
    assert sorted(n.next_attempt_at - T0 for n in waiting) == [1.0, 1.0, 2.0, 2.0]
    assert sorted(rescheduled) == [1.0, 1.0, 2.0, 2.0]
    waits = [r for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(waits) == 4 and {r.notification_id for r in waits} == {n.id for n in waiting}

    clock.t = T0 + 0.5
    assert d.run_once() == 0 and len(httpserver.log) == 2  # nothing due yet
    clock.t = T0 + 1.0
    assert d.run_once() == 2 and len(httpserver.log) == 4
    clock.t = T0 + 2.0
    assert d.run_once() == 2 and len(httpserver.log) == 6
    sent = app.store.list("sent", limit=10)
    assert len(sent) == 6 and {n.attempts for n in sent} == {1}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(generate_latest(app.metrics.registry).decode()) for s in f.samples}
    assert samples[("alertrouter_held_notifications_total", (("route", "all"), ("stage", "rate_limit")))] == 4
