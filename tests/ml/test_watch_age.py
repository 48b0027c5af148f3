"""Old events at intake (a 2020 sample run, a replay) are stored and routed but start no watch."""

from __future__ import annotations

import copy
import logging
from datetime import datetime, timezone

import pytest

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.config.schema import RunWatch
from alertrouter.errors import ConfigError
from alertrouter.inbound import parse_payload
from tests.conftest import load_fixture

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc).timestamp()
H, D = 3600.0, 86400.0
SAMPLE = "aml-runstatuschanged-running.eventgrid.json"  # Microsoft's sample: a run started 2020-03-09
SAMPLE_RUN = "AutoML_ad912b2d-6467-4f32-a616-dbe4af6dd8fc"
EXPERIMENT = "automl-local-regression"

CONFIG = """
channels: {ds: {type: webhook, url: "http://127.0.0.1:9/ds"}}
roles: {ds: {channels: [ds]}}
routes:
  - {name: runs, match: {kind: [run.started, run.completed, run.stuck, run.stuck_resolved, run.missing,
                                run.missing_resolved]}, roles: [ds]}
run_watch: {stuck_after: 2h%s}
"""


class Clock:
    t = T0

    def __call__(self):
        return self.t


def make_app(tmp_path, extra: str = ""):
    clock = Clock()
    app = App(loads(CONFIG % extra, str(tmp_path / "r.yaml"), env={}), tmp_path / "data", clock=clock)
    return app, clock


def sample(at: float | None = None, status: str = "Running", event_id: str | None = None):
    """The real sample payload; with `at`, the same run as if it happened then."""
    payload = load_fixture(SAMPLE)
    if at is not None:
        payload = copy.deepcopy(payload)
        payload[0].update(id=event_id or f"{status}-{int(at)}",
                          eventTime=datetime.fromtimestamp(at, timezone.utc).isoformat())
        payload[0]["data"]["runStatus"] = status
    return parse_payload(payload).events


def stored_kinds(app):
    return sorted(app.store.get_event(n.event_id).kind for n in app.store.list())


def test_the_2020_sample_run_is_stored_and_routed_but_never_stuck(tmp_path, caplog):
    app, clock = make_app(tmp_path)
    caplog.set_level(logging.INFO, logger="alertrouter.watch")
    [event] = sample()
    result = app.ingest([event])
    assert result.accepted == [event.id] and len(result.notifications) == 1   # stored and routed as before
    assert app.store.get_event(event.id).kind == "run.started"
    assert app.store.state_list("run") == []
    assert app.ingest(sample()).duplicates == [event.id]                       # a redelivery logs nothing more
    for hours in (3, 48, 24 * 30):
        clock.t = T0 + hours * H
        assert app.tick() == 0
    assert stored_kinds(app) == ["run.started"]
    notes = [r.getMessage() for r in caplog.records if r.name == "alertrouter.watch"]
    assert notes == [f"run {SAMPLE_RUN} started 2020-03-09T23:53:04.457972+00:00: older than max_event_age 7d; "
                     "not watched"]
    assert {r.levelno for r in caplog.records if r.name == "alertrouter.watch"} == {logging.INFO}


@pytest.mark.parametrize("age,extra,watched", [
    (1 * H, "", True),                          # a recent start: watched as before
    (6 * D, "", True),                          # within the default 7 days
    (8 * D, "", False),                         # beyond it
    (1 * D, ", max_event_age: 12h", False),     # the setting moves the limit
    (10 * H, ", max_event_age: 12h", True),
    (8 * D, ", max_event_age: 30d", True),
])
def test_the_age_limit_decides_whether_a_start_is_watched(tmp_path, age, extra, watched):
    app, clock = make_app(tmp_path, extra)
    app.ingest(sample(T0 - age))
    clock.t = T0 + 3 * H
    app.tick()
    assert stored_kinds(app) == (["run.started", "run.stuck"] if watched else ["run.started"])


@pytest.mark.parametrize("off", ["0", "none", "null"])
def test_no_limit_watches_even_the_2020_sample(tmp_path, off):
    app, clock = make_app(tmp_path, f", max_event_age: {off}")
    app.ingest(sample())
    clock.t = T0 + 60
    assert app.tick() == 1
    [stuck] = [e for e in map(app.store.get_event, (n.event_id for n in app.store.list())) if e.kind == "run.stuck"]
    assert stuck.title.startswith(f"Run {SAMPLE_RUN} of experiment {EXPERIMENT} still running after 2463 days 10 h "
                                                                                "(limit 2 h, default)")


def test_a_late_end_still_ends_the_watch_and_resolves_the_stuck_run(tmp_path):
    app, clock = make_app(tmp_path, ", max_event_age: 12h")
    app.ingest(sample(T0))
    clock.t = T0 + 3 * H
    assert app.tick() == 1                                   # stuck after 2 h
    clock.t = T0 + 20 * H                                    # the end, at T0 + 4 h, delivered 16 h late
    app.ingest(sample(T0 + 4 * H, status="Completed"))
    assert stored_kinds(app) == ["run.completed", "run.started", "run.stuck", "run.stuck_resolved"]
    [(_, doc, _)] = app.store.state_list("run")
    assert doc["ended"] is True
    clock.t = T0 + 40 * H
    app.tick()
    assert stored_kinds(app) == ["run.completed", "run.started", "run.stuck", "run.stuck_resolved"]


def test_an_old_start_is_not_a_start_for_the_missing_watch(tmp_path):
    app, clock = make_app(tmp_path, f", missing: [{{experiment: {EXPERIMENT}, every: 26h}}]")
    app.tick()                                               # starts counting at T0
    clock.t = T0 + 27 * H
    app.tick()
    assert stored_kinds(app) == ["run.missing"]
    app.ingest(sample())                                     # the 2020 sample: not "started again"
    assert stored_kinds(app) == ["run.missing", "run.started"]
    [(_, doc, _)] = app.store.state_list("missing")
    assert doc["last_start"] == 0.0 and doc["raised"] is not None
    app.ingest(sample(clock.t - 60))                         # a real start a minute ago
    assert stored_kinds(app) == ["run.missing", "run.missing_resolved", "run.started", "run.started"]


def test_the_default_is_seven_days():
    assert RunWatch().max_event_age == 7 * D
    assert RunWatch(max_event_age="36h").max_event_age == 36 * H


@pytest.mark.parametrize("value,message", [
    ("7days", 'routing.yaml:9 run_watch.max_event_age: value error, "7days" is not a duration; write it like 7d '
              'or 12h, or none for no limit, got "7days"'),
    ("-1", "routing.yaml:9 run_watch.max_event_age: value error, -1 is negative; write a duration like 7d or 12h, "
           "or none for no limit, got -1"),
    ("[7d]", 'routing.yaml:9 run_watch.max_event_age: value error, expected a duration like 7d or 12h, '
             "or none for no limit, got a list"),
])
def test_a_bad_value_is_a_config_error_with_its_line(value, message):
    text = (CONFIG % "").replace("run_watch: {stuck_after: 2h}", f"run_watch:\n  stuck_after: 2h\n  max_event_age: {value}")
    with pytest.raises(ConfigError) as info:
        loads(text, "routing.yaml", env={})
    assert info.value.problems == [message]
