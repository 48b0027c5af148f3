"""Route matching as a table: labels in → matched route path, roles and channels out."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from alertrouter.config.load import load, loads
from alertrouter.model import Event
from alertrouter.config.matchers import Matcher
from alertrouter.routing.router import Router
from tests.conftest import ROOT

TREE = """
version: 1
channels:
  se: {type: webhook, url: "http://127.0.0.1:9/se"}
  ds: {type: webhook, url: "http://127.0.0.1:9/ds"}
  qa: {type: webhook, url: "${QA_URL}"}
roles:
  se: {channels: [se]}
  ds: {channels: [ds]}
  qa: {channels: [qa], visibility: restricted}
routes:
  - name: pages
    match: {source: azure-monitor, severity: {at_least: error}}
    roles: [se]
  - name: churn-failures
    match: {kind: run.failed, experiment: {regex: "churn-.*"}}
    roles: [ds, se]
  - name: big-drift
    match: {kind: dataset.drift_detected, drift_coefficient: {gt: 0.5, le: 1}}
    roles: [ds]
  - name: runs
    match: {kind: [run.started, run.completed, run.failed], workspace: {not: sandbox}}
    roles: [ds]
    continue: true
  - name: qa-lifecycle
    match: {kind: {in: [run.started, run.completed, run.failed]}, tag.qa: {exists: true}}
    roles: [qa]
  - name: quiet
    match: {kind: run.status_changed}
    roles: []
default_route:
  roles: [se]
"""


def ev(kind="run.failed", source="aml", severity="error", **labels) -> Event:
    return Event(id="x", source=source, kind=kind, severity=severity, title="t", time=datetime.now(timezone.utc),
                 fingerprint="f", labels={k.replace("__", "."): v for k, v in labels.items()})


CASES = [
    # (event, matched routes, roles, channels)
    (ev("alert.fired", "azure-monitor", "critical"), ["pages"], ["se"], ["se"]),
    (ev("alert.fired", "azure-monitor", "error"), ["pages"], ["se"], ["se"]),
    (ev("alert.fired", "azure-monitor", "warning"), ["default"], ["se"], ["se"]),
    (ev("run.failed", experiment="churn-daily"), ["churn-failures"], ["ds", "se"], ["ds", "se"]),
    (ev("run.failed", experiment="xchurn-daily"), ["runs"], ["ds"], ["ds"]),
    (ev("run.failed", experiment="fraud", tag__qa="yes"), ["runs", "qa-lifecycle"], ["ds", "qa"], ["ds", "log"]),
    (ev("run.started", workspace="sandbox", tag__qa="1"), ["qa-lifecycle"], ["qa"], ["log"]),
    (ev("run.started", workspace="sandbox"), ["default"], ["se"], ["se"]),
    (ev("dataset.drift_detected", "aml", "warning", drift_coefficient="0.83"), ["big-drift"], ["ds"], ["ds"]),
    (ev("dataset.drift_detected", "aml", "warning", drift_coefficient="0.2"), ["default"], ["se"], ["se"]),
    (ev("dataset.drift_detected", "aml", "warning", drift_coefficient="n/a"), ["default"], ["se"], ["se"]),
    (ev("run.status_changed", severity="verbose"), ["quiet"], [], []),
    (ev("event.other", "eventgrid", "verbose"), ["default"], ["se"], ["se"]),
]


@pytest.fixture(scope="module")
def router():
    return Router(loads(TREE, "tree.yaml", env={}))


@pytest.mark.parametrize("event,routes,roles,channels", CASES)
def test_route_table(router, event, routes, roles, channels):
    d = router.route(event)
    assert (d.routes, d.roles, d.channels) == (routes, roles, channels)


def test_trail_names_the_failing_matcher(router):
    d = router.route(ev("run.failed", experiment="xchurn-daily"), explain=True)
    assert d.trail[:3] == [
        'pages: no match: source equals "azure-monitor" (value "aml")',
        'churn-failures: no match: experiment regex "churn-.*" (value "xchurn-daily")',
        'big-drift: no match: kind equals "dataset.drift_detected" (value "run.failed")',
    ]
    assert d.trail[3] == "runs: match; continue"
    assert d.trail[4] == "qa-lifecycle: no match: tag.qa exists true (value missing)"


def test_unset_channel_falls_back_to_log_and_says_so(router):
    d = router.route(ev("run.started", workspace="sandbox", tag__qa="1"))
    assert [(t.role, t.channel, t.fallback_from) for t in d.targets] == [("qa", "log", "qa")]


@pytest.mark.parametrize("matcher,value,result", [
    (Matcher("x", "equals", "a"), "a", True),
    (Matcher("x", "equals", "a"), None, False),
    (Matcher("x", "not", "a"), None, True),
    (Matcher("x", "not_in", ("a", "b")), "c", True),
    (Matcher("x", "ge", 3.0), "3", True),
    (Matcher("x", "lt", 3.0), "nan", False),
    (Matcher("severity", "at_least", 2), "warning", True),
    (Matcher("severity", "at_least", 2), "informational", False),
    (Matcher("severity", "at_most", 2), "verbose", True),
    (Matcher("severity", "at_least", 1), "bogus", False),
])
def test_matcher_ops(matcher, value, result):
    assert matcher.test(value) is result


SHIPPED = [
    # the shipped routing.yaml, for the four roles of the design
    (ev("alert.fired", "azure-monitor", "critical"), ["production-pages"], ["on-call", "software-engineer"]),
    (ev("alert.resolved", "azure-monitor", "error"), ["production-pages"], ["on-call", "software-engineer"]),
    (ev("alert.fired", "azure-monitor", "warning"), ["platform-alerts"], ["software-engineer"]),
    (ev("alert.fired", "azure-monitor", "warning", category="cost"), ["cost-and-budgets"], ["business-analyst"]),
    (ev("alert.fired", "azure-monitor", "error", category="cost"), ["cost-and-budgets"], ["business-analyst"]),
    (ev("run.failed"), ["run-results", "experiment-lifecycle"], ["data-scientist", "quality-assurance"]),
    (ev("run.started", severity="informational"), ["experiment-lifecycle"], ["quality-assurance"]),
    (ev("run.status_changed", severity="verbose"), ["status-flips"], []),
    (ev("run.stuck", severity="warning"), ["run-watch"], ["data-scientist"]),
    (ev("run.missing", severity="error"), ["run-watch"], ["data-scientist"]),
    (ev("model.registered", severity="informational"), ["models-and-drift"], ["data-scientist"]),
    (ev("event.other", "eventgrid", "verbose"), ["default"], ["software-engineer"]),
]


@pytest.mark.parametrize("event,routes,roles", SHIPPED)
def test_shipped_routing_yaml(event, routes, roles):
    d = Router(load(ROOT / "routing.yaml", env={})).route(event)
    assert (d.routes, d.roles) == (routes, roles)
