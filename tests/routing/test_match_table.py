"""Intake routes with cached per-key masks; explanations walk route by route. Both must agree on
every event: the fixtures through the shipped routing.yaml and the table in test_routes, and
label combinations that exercise every operator, missing labels and `continue`."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timezone

import pytest

from alertrouter.config.load import load, loads
from alertrouter.inbound import parse_payload
from alertrouter.model import Event
from alertrouter.routing.router import MatchTable, Router
from tests.conftest import ROOT, fixture_files
from tests.routing.test_routes import TREE

OPERATORS = """
channels:
  hook: {type: webhook, url: "http://127.0.0.1:9/hook"}
roles:
  a: {channels: [hook]}
  b: {channels: [hook]}
routes:
  - {name: eq, match: {team: ml}, roles: [a], continue: true}
  - {name: any-of, match: {team: [ml, data]}, roles: [b], continue: true}
  - {name: not, match: {team: {not: ml}}, roles: [a], continue: true}
  - {name: not-in, match: {team: {not_in: [ml, data]}}, roles: [b], continue: true}
  - {name: regex, match: {experiment: {regex: "churn-.*"}}, roles: [a], continue: true}
  - {name: not-regex, match: {experiment: {not_regex: "churn-.*"}}, roles: [b], continue: true}
  - {name: numeric, match: {score: {gt: 0.3, le: 0.9}}, roles: [a], continue: true}
  - {name: exists, match: {team: {exists: true}}, roles: [b], continue: true}
  - {name: absent, match: {team: {exists: false}}, roles: [a], continue: true}
  - {name: severity, match: {severity: {at_least: error}, source: aml}, roles: [b], continue: true}
  - {name: two-keys, match: {team: ml, experiment: {regex: "churn-.*"}, score: {lt: 0.5}}, roles: [a]}
  - {name: after-stop, match: {}, roles: [b]}
"""


def _event(severity: str, labels: dict[str, str]) -> Event:
    return Event(id="e", source="aml", kind="run.failed", severity=severity, title="t",
                 time=datetime(2026, 1, 1, tzinfo=timezone.utc), fingerprint="f", labels=labels)


def _agree(router: Router, event: Event) -> None:
    fast, walked = router.route(event), router.route(event, explain=True)
    assert (fast.routes, fast.roles, fast.targets) == (walked.routes, walked.roles, walked.targets), walked.trail


def test_every_operator_and_missing_label_agree_with_the_walk():
    router = Router(loads(OPERATORS, "ops.yaml", env={}))
    values = {"team": [None, "ml", "data", "qa"], "experiment": [None, "churn-1", "fraud-2", "churn"],
              "score": [None, "0.2", "0.5", "0.9", "1.5", "nan", "high"]}
    for severity in ("critical", "error", "warning", "verbose"):
        for combo in itertools.product(*values.values()):
            labels = {k: v for k, v in zip(values, combo) if v is not None}
            _agree(router, _event(severity, labels))


def test_cached_values_give_the_same_answer_the_second_time():
    router = Router(loads(OPERATORS, "ops.yaml", env={}))
    event = _event("error", {"team": "ml", "experiment": "churn-7", "score": "0.4"})
    first = router.route(event).routes
    assert first == router.route(event).routes == ["eq", "any-of", "regex", "numeric", "exists", "severity",
                                                     "two-keys"]


def test_a_full_value_cache_starts_over_and_stays_right(monkeypatch):
    monkeypatch.setattr(MatchTable, "MAX_VALUES", 3)
    router = Router(loads(OPERATORS, "ops.yaml", env={}))
    for i in range(20):
        _agree(router, _event("warning", {"team": ("ml", "data", "x", "y")[i % 4], "score": str(i / 10)}))
    assert all(len(cache) <= 3 for *_, cache in router.table.keys)


@pytest.mark.parametrize("config", ["shipped", "table"])
def test_every_fixture_routes_the_same_both_ways(config):
    loaded = load(ROOT / "routing.yaml", env={}) if config == "shipped" else loads(TREE, "t.yaml", env={})
    router = Router(loaded)
    events = [e for path in fixture_files() for e in parse_payload(json.loads(path.read_text())).events]
    assert len(events) > 40
    for event in events:
        _agree(router, event)
