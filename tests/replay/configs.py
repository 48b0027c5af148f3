"""The routing config the seeded month was recorded under (the shipped routing.yaml's shape, with
se-teams' budget lowered to 4 a minute so storms of pages fold), and the known changes the table
tests try."""

from __future__ import annotations

from alertrouter.config.load import loads

ENV = {"SE_URL": "https://example.invalid/se", "DS_URL": "https://example.invalid/ds",
       "QA_URL": "https://example.invalid/qa", "PD_KEY": "0123456789abcdef0123456789abcdef"}

BASE = """
version: 1
channels:
  se-teams: {type: teams, url: "${SE_URL}", budget_per_minute: 4}
  ds-teams: {type: teams, url: "${DS_URL}"}
  qa-teams: {type: teams, url: "${QA_URL}"}
  pager: {type: pagerduty, routing_key: "${PD_KEY}"}
roles:
  on-call: {channels: [pager]}
  software-engineer: {channels: [se-teams]}
  data-scientist: {channels: [ds-teams]}
  quality-assurance: {channels: [qa-teams]}
  business-analyst: {channels: [se-teams]}
inhibit_rules:
  - name: sev0-holds-lesser-alerts-on-the-resource
    source: {source: azure-monitor, severity: critical}
    target: {source: azure-monitor, severity: {at_most: warning}}
    equal: [resource]
routes:
  - name: production-pages
    match: {source: azure-monitor, severity: {at_least: error}, category: {not: cost}}
    roles: [on-call, software-engineer]
    escalate: {after: 15m, to: [software-engineer]}
  - name: cost-and-budgets
    match: {category: cost}
    roles: [business-analyst]
  - name: platform-alerts
    match: {source: azure-monitor}
    roles: [software-engineer]
    group_by: [alert_rule]
    group_wait: 30s
    group_interval: 5m
    repeat_interval: 4h
  - name: run-results
    match: {kind: [run.completed, run.failed, run.canceled]}
    roles: [data-scientist]
    continue: true
  - name: experiment-lifecycle
    match: {kind: [run.started, run.completed, run.failed, run.canceled]}
    roles: [quality-assurance]
"""

# the known changes: (name, old text, new text)
CHANGES = {
    "drop-qa": ("    roles: [quality-assurance]\n", "    roles: []\n"),
    "inhibit-cpu-under-5xx": ("routes:\n", """  - name: cpu-under-5xx
    source: {alert_rule: endpoint-5xx}
    target: {alert_rule: cpu-high}
    equal: []
routes:
"""),
    "long-group-wait": ("    group_wait: 30s\n", "    group_wait: 1h\n"),
    "failures-page": ("    roles: [data-scientist]\n    continue: true\n",
                      "    roles: [data-scientist, on-call]\n    continue: true\n"),
}


def config(change: str | None = None, name: str = "routing.yaml"):
    text = BASE
    if change is not None:
        old, new = CHANGES[change]
        assert old in text, change
        text = text.replace(old, new, 1)
    return loads(text, name, env=ENV)
