"""Stuck and missing runs with a controlled clock, two watchers over one store (two instances)."""

from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from alertrouter.config.schema import RunWatch
from alertrouter.inbound import parse_payload
from alertrouter.ml.watch import Watch
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import load_fixture

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc).timestamp()
H = 3600.0


@pytest.fixture
def store(tmp_path):
    s = SqliteStore(tmp_path / "w.db")
    yield s
    s.close()


def run_event(run: str, status: str, at: float, experiment: str = "nightly-retrain"):
    ev = copy.deepcopy(load_fixture("aml-runstatuschanged-running.eventgrid.json"))
    ev[0].update(id=f"{run}-{status}", subject=f"experiments/x/runs/{run}",
                 eventTime=datetime.fromtimestamp(at, timezone.utc).isoformat())
    ev[0]["data"].update(runId=run, runStatus=status, experimentName=experiment)
    [event] = parse_payload(ev).events
    return event


def kinds(events):
    return [(e.kind, e.title) for e in events]


def test_stuck_after_the_default_limit_once_across_instances_then_resolved(store):
    cfg = RunWatch(stuck_after="6h")
    a, b = Watch(cfg, store), Watch(cfg, store)
    assert a.observe(run_event("r1", "Running", T0), T0) == []
    assert a.tick(T0 + 5 * H) == []
    raised = a.tick(T0 + 6 * H + 60) + b.tick(T0 + 6 * H + 60) + b.tick(T0 + 7 * H)
    assert kinds(raised) == [("run.stuck", "Run r1 of experiment nightly-retrain still running after 6 h 1 min "
                                           "(limit 6 h, default)")]
    [stuck] = raised
    assert (stuck.severity.value, stuck.fingerprint, stuck.labels["run_id"]) == ("warning", f"stuck:{run_event('r1', 'Running', T0).fingerprint}", "r1")
    ended = b.observe(run_event("r1", "Failed", T0 + 9 * H), T0 + 9 * H)
    assert kinds(ended) == [("run.stuck_resolved", "Run r1 of experiment nightly-retrain ended (run.failed) after 9 h")]
    assert ended[0].fingerprint == stuck.fingerprint
    assert a.observe(run_event("r1", "Failed", T0 + 9 * H), T0 + 9 * H) == []  # the redelivery adds nothing


def test_learned_limit_is_k_times_the_median_with_a_floor(store):
    cfg = RunWatch(learn={"factor": 3, "last": 10, "min_runs": 3, "floor": "30m"})
    w = Watch(cfg, store)
    for i, minutes in enumerate((10, 12, 14)):
        start = T0 + i * H
        w.observe(run_event(f"done{i}", "Running", start), start)
        w.observe(run_event(f"done{i}", "Completed", start + minutes * 60), start + minutes * 60)
    assert w.limit("nightly-retrain") == (36 * 60, "3 × median of 3 runs")
    start = T0 + 10 * H
    w.observe(run_event("slow", "Running", start), start)
    assert w.tick(start + 35 * 60) == []
    [stuck] = w.tick(start + 37 * 60)
    assert stuck.title.endswith("(limit 36 min, 3 × median of 3 runs)")
    assert Watch(RunWatch(learn={"floor": "2h"}), store).limit("nightly-retrain")[0] == 2 * H  # the floor wins


def test_configured_limit_wins_and_unknown_experiments_are_not_watched(store):
    w = Watch(RunWatch(experiments={"nightly-retrain": "1h"}, learn=None), store)
    w.observe(run_event("r1", "Running", T0), T0)
    w.observe(run_event("r2", "Running", T0, experiment="adhoc"), T0)
    assert kinds(w.tick(T0 + 2 * H)) == [("run.stuck", "Run r1 of experiment nightly-retrain still running after "
                                                         "2 h (limit 1 h, configured)")]


def test_missing_every_26h_raises_once_and_resolves_on_the_next_start(store):
    cfg = RunWatch(missing=[{"experiment": "nightly-retrain", "every": "26h"}])
    a, b = Watch(cfg, store), Watch(cfg, store)
    a.observe(run_event("r1", "Running", T0), T0)
    assert a.tick(T0 + 25 * H) == []
    raised = a.tick(T0 + 27 * H) + b.tick(T0 + 27 * H) + b.tick(T0 + 30 * H)
    assert [e.kind for e in raised] == ["run.missing"]
    assert raised[0].title == "Experiment nightly-retrain has not started since it was due at 2026-11-24T12:00:00+00:00"
    back = b.observe(run_event("r2", "Running", T0 + 31 * H), T0 + 31 * H)
    assert [(e.kind, e.fingerprint) for e in back] == [("run.missing_resolved", "missing:nightly-retrain")]
    assert a.tick(T0 + 40 * H) == []


def test_missing_scheduled_start_after_its_grace(store):
    cfg = RunWatch(missing=[{"experiment": "nightly-retrain", "schedule": "0 0 2 * * *", "grace": "2h",
                             "time_zone": "UTC"}])
    w = Watch(cfg, store)
    day = datetime(2026, 11, 23, 0, 0, tzinfo=timezone.utc).timestamp()
    assert w.tick(day) == []                                  # starts watching now
    w.observe(run_event("r1", "Running", day + 2 * H + 600), day + 2 * H + 600)  # on time (02:10)
    assert w.tick(day + 5 * H) == []
    assert w.tick(day + 24 * H + 3 * H) == []                 # next day 03:00: still within the grace
    other = Watch(cfg, store)                                 # a second instance on the same store
    raised = w.tick(day + 24 * H + 4 * H + 60) + other.tick(day + 24 * H + 4 * H + 60)  # 04:01: late
    [missing] = raised
    assert missing.kind == "run.missing" and "2026-11-24T02:00:00+00:00" in missing.title
    assert w.tick(day + 30 * H) == [] and other.tick(day + 30 * H) == []


def test_through_the_app_routing_and_outbox(tmp_path):
    from alertrouter.app import App
    from alertrouter.config.load import loads

    class Clock:
        t = T0

        def __call__(self):
            return self.t

    clock = Clock()
    app = App(loads("""
channels: {ds: {type: webhook, url: "http://127.0.0.1:9/ds"}}
roles: {ds: {channels: [ds]}}
routes:
  - {name: watch, match: {kind: [run.stuck, run.stuck_resolved]}, roles: [ds]}
  - {name: quiet, match: {}, roles: []}
run_watch: {stuck_after: 2h}
""", str(tmp_path / "r.yaml"), env={}), tmp_path / "data", clock=clock)
    app.ingest([run_event("r1", "Running", T0)])
    clock.t = T0 + 3 * H
    assert app.tick() == 1
    app.ingest([run_event("r1", "Completed", T0 + 4 * H)])
    got = sorted(app.store.get_event(n.event_id).kind for n in app.store.list())
    assert got == ["run.stuck", "run.stuck_resolved"]
