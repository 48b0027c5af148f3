"""routing.yaml problems, compared by exact message: file, line, path, what is wrong, how to fix."""

from __future__ import annotations

import pytest

from alertrouter.config.load import load, loads
from alertrouter.errors import ConfigError
from tests.conftest import ROOT

BASE = """version: 1
channels:
  se: {type: webhook, url: "${SE_URL}"}
roles:
  se:
    channels: [se]
routes:
  - name: pages
    match: {severity: critical}
    roles: [se]
"""

CASES = [
    ("unknown top-level key", BASE + "silences: []\n",
     'routing.yaml:11 silences: unknown key "silences"; allowed: channels, default_route, digests, '
     "inhibit_rules, links, retention_days, roles, routes, run_owners, run_watch, time_windows, version"),
    ("typo in a route key", BASE.replace("    roles: [se]\n", "    roles: [se]\n    contiue: true\n"),
     'routing.yaml:11 routes[0].contiue: unknown key "contiue" (did you mean "continue"?); '
     "allowed: active_during, continue, escalate, group_by, group_interval, group_wait, match, muted_during, name, "
     "repeat_interval, roles, templates"),
    ("unknown channel type", BASE.replace("type: webhook", "type: slack"),
     'routing.yaml:3 channels.se: unknown channel type "slack" (expected one of: email, log, pagerduty, smtp, '
     "teams, webhook)"),
    ("channel without type", BASE.replace("type: webhook, ", ""),
     'routing.yaml:3 channels.se: missing key "type" (one of: email, log, pagerduty, smtp, teams, webhook)'),
    ("unknown channel key", BASE.replace('url: "${SE_URL}"', 'url: "${SE_URL}", retries: 3'),
     'routing.yaml:3 channels.se.retries: unknown key "retries" (did you mean "retry"?); allowed: budget_per_minute, headers, rate_limit, retry, '
     "signing_secret, timeout_seconds, type, url"),
    ("undefined role", BASE.replace("    roles: [se]\n", "    roles: [sre]\n"),
     'routing.yaml:10 routes[0].roles[0]: undefined role "sre" (did you mean "se"?); '
     "define it under roles: or fix the name"),
    ("undefined channel", BASE.replace("channels: [se]", "channels: [pager]"),
     'routing.yaml:6 roles.se.channels[0]: undefined channel "pager"; define it under channels: or fix the name'),
    ("unknown severity", BASE.replace("severity: critical", "severity: sev9"),
     'routing.yaml:9 routes[0].match.severity: unknown severity "sev9"; Azure\'s severities run from Sev0 to Sev4, '
     "written here as critical (Sev0), error (Sev1), warning (Sev2), informational (Sev3), verbose (Sev4)"),
    ("bad regex", BASE.replace("severity: critical", 'experiment: {regex: "churn-("}'),
     'routing.yaml:9 routes[0].match.experiment: invalid regex "churn-(": missing ), unterminated subpattern '
     "at position 6"),
    ("unknown operator", BASE.replace("severity: critical", "drift: {greater: 0.5}"),
     'routing.yaml:9 routes[0].match.drift: unknown operator "greater" (operators: equals, not, in, not_in, '
     "regex, not_regex, gt, ge, lt, le, exists, at_least, at_most)"),
    ("severity order on another label", BASE.replace("severity: critical", "drift: {at_least: error}"),
     "routing.yaml:9 routes[0].match.drift: at_least compares severities; use it on the severity label, "
     "or gt/ge/lt/le for numbers"),
    ("numeric op with a string", BASE.replace("severity: critical", "drift: {gt: high}"),
     "routing.yaml:9 routes[0].match.drift: gt takes a number, got 'high'"),
    ("duplicate route", BASE + "  - name: pages\n    roles: [se]\n",
     'routing.yaml:11 routes[1].name: duplicate route name "pages" (also routes[0]); route names must be unique'),
    ("no roles", "version: 1\nchannels: {}\n", 'routing.yaml:1 roles: missing required key "roles"'),
    ("bad visibility", BASE.replace("    channels: [se]\n", "    channels: [se]\n    visibility: secret\n"),
     "routing.yaml:7 roles.se.visibility: invalid value \"secret\": expected 'full' or 'restricted'"),
    ("roles not a list", BASE.replace("    roles: [se]\n", "    roles: se\n"),
     'routing.yaml:10 routes[0].roles: expected a list like [a, b], got "se"'),
    ("unknown kind", BASE.replace("severity: critical", "kind: run.faild"),
     'routing.yaml:9 routes[0].match.kind: unknown kind "run.faild" (expected one of: run.started, run.completed, '
     "run.failed, run.canceled, run.status_changed, run.stuck, run.stuck_resolved, run.missing, "
     "run.missing_resolved, model.registered, model.deployed, dataset.drift_detected, "
     "alert.fired, alert.resolved, alert.acknowledged, channel.down, channel.up, event.other)"),
    ("YAML syntax", BASE.replace("roles: [se]\n", "roles: [se\n", 1),
     'routing.yaml:10 YAML syntax error at column 12: the list that opens here with "[" is still open at line 11, '
     'column 1; add the "]" at the end of the list and separate its items with commas'),
    ("empty file", "", "routing.yaml:1 the file is empty; it needs at least `roles:` and `channels:`"),
    ("digest with an unknown role, zone and a 5-field schedule",
     BASE + "digests:\n  weekly:\n    schedule: 0 8 * * Mon\n    time_zone: Europe/Berlinn\n    roles: [ba]\n",
     None),
    ("wrong version", BASE.replace("version: 1", "version: 2"), "routing.yaml:1 version: invalid value 2: expected 1"),
]


@pytest.mark.parametrize("text,message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_config_error_message(text, message):
    with pytest.raises(ConfigError) as info:
        loads(text, "routing.yaml", env={"SE_URL": "http://127.0.0.1:9/x"})
    assert info.value.problems == (DIGEST_PROBLEMS if message is None else [message])


DIGEST_PROBLEMS = [
    'routing.yaml:15 digests.weekly.roles[0]: undefined role "ba"; '
    "define it under roles: or fix the name",
    'routing.yaml:14 digests.weekly.time_zone: unknown time zone "Europe/Berlinn"; use an IANA name like '
    '"Europe/Berlin" or "UTC"',
    'routing.yaml:13 digests.weekly.schedule: schedule "0 8 * * Mon" has 5 fields; NCRONTAB needs 6 '
    '({second} {minute} {hour} {day} {month} {day-of-week}), e.g. "0 0 8 * * Mon"',
]


def test_every_problem_reported_at_once():
    text = BASE.replace("channels: [se]", "channels: [nope]").replace("    roles: [se]\n", "    roles: [who]\n")
    with pytest.raises(ConfigError) as info:
        loads(text, "routing.yaml", env={})
    assert [p.split(" ", 2)[1] for p in info.value.problems] == ["roles.se.channels[0]:", "routes[0].roles[0]:"]


def test_unset_env_var_is_a_warning_with_line_not_an_error():
    loaded = loads(BASE, "routing.yaml", env={})
    assert loaded.unresolved == {"se": ["SE_URL"]}
    assert loaded.warnings == [
        'routing.yaml:3 channels.se.url: environment variable SE_URL is not set; notifications for channel "se" '
        "go to the log channel until it is"
    ]


def test_missing_file():
    with pytest.raises(ConfigError) as info:
        load("does-not-exist.yaml")
    assert info.value.problems == ["does-not-exist.yaml: file not found; pass --config PATH or create routing.yaml"]


def test_shipped_config_is_valid():
    loaded = load(ROOT / "routing.yaml", env={})
    assert set(loaded.config.roles) == {"on-call", "software-engineer", "data-scientist", "quality-assurance",
                                        "business-analyst"}
    assert loaded.config.roles["quality-assurance"].visibility == "restricted"
