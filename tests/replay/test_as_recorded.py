"""A period recorded as `make run` records it (the shipped routing.yaml, no channel secret set: every
role's notices go to `log`, one per role however many channels it names) replays to itself, whether
the person replaying has the channels' secrets or not; and Azure ML's two end notices of a run in
the same second replay in the order they were taken in (the first notified, the second was held)."""

from __future__ import annotations

from datetime import timedelta

from alertrouter.config.load import load
from alertrouter.replay import replay
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import ROOT
from tests.replay.conftest import record
from tests.replay.month import START, Month
from tests.test_hostile_payloads import ENV as SECRETS  # a value for every ${ENV_VAR} of the shipped config

SHIPPED = ROOT / "routing.yaml"


def test_a_period_recorded_without_secrets_replays_to_itself_with_or_without_them(tmp_path, the_month):
    end = START + timedelta(days=4)
    days = [e for e in the_month.events if e.time < end]
    ends = [e for e in days if e.kind == "run.completed"]
    first = next(e for i, e in enumerate(ends) if all(o.fingerprint != e.fingerprint for o in ends[:i]))
    second = first.model_copy(update={"id": "!" + first.id})  # the same second; first by id, second in
    assert second.id < first.id
    days.insert(days.index(first) + 1, second)
    store = SqliteStore(tmp_path / "alertrouter.db")
    record(store, Month(days, []), tmp_path, load(SHIPPED, env={}))

    for env in ({}, SECRETS):
        report = replay(load(SHIPPED, env=env), store, START, end)
        assert [c.as_dict() for c in report.changed] == [], env
        assert report.replayed.as_dict() == report.recorded.as_dict()
        assert report.recorded.held["lifecycle"] >= 1 and report.recorded.held["group"] > 0
        [said] = [n for n in report.notes if "go to log here too" in n]
        assert "se-teams" in said and "ops-webhook" in said
    store.close()
