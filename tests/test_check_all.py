"""`alertrouter check` reports every problem of a routing.yaml in one pass: schema errors and
cross-reference problems together, each with file:line, with the warnings beside them; the
cross-checks skip only what a schema error made unreadable."""

from __future__ import annotations

from click.testing import CliRunner

from alertrouter.cli.main import main
from alertrouter.config.load import loads
from alertrouter.errors import ConfigError

FIVE_TYPOS = """version: 1
channels:
  se: {type: webhook, url: "${SE_URL}", retries: 3}
roles:
  se:
    channels: [se, pagr]
    visibilty: full
routes:
  - name: pages
    match: {severity: critcal}
    roles: [sre]
    contiue: true
"""


def run_check(path, env=None):
    return CliRunner().invoke(main, ["check", str(path)], env=env or {})


def test_five_typos_are_reported_at_once(tmp_path):
    """Three schema errors (unknown keys) and two cross-reference problems, in one run."""
    cfg = tmp_path / "routing.yaml"
    cfg.write_text(FIVE_TYPOS)
    r = run_check(cfg, env={"SE_URL": "https://hooks.example.org/se/0123456789"})
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr.splitlines() == [
        f'error: {cfg}:3 channels.se.retries: unknown key "retries" (did you mean "retry"?); allowed: '
        "budget_per_minute, headers, rate_limit, retry, signing_secret, timeout_seconds, type, url",
        f'error: {cfg}:7 roles.se.visibilty: unknown key "visibilty" (did you mean "visibility"?); allowed: '
        "active_during, channels, description, muted_during, recipients, show, templates, visibility",
        f'error: {cfg}:12 routes[0].contiue: unknown key "contiue" (did you mean "continue"?); allowed: '
        "active_during, continue, escalate, group_by, group_interval, group_wait, match, muted_during, name, "
        "repeat_interval, roles, templates",
        f'error: {cfg}:6 roles.se.channels[1]: undefined channel "pagr"; define it under channels: or fix the name',
        f'error: {cfg}:11 routes[0].roles[0]: undefined role "sre" (did you mean "se"?); define it under roles: '
        "or fix the name",
        f'error: {cfg}:10 routes[0].match.severity: unknown severity "critcal"; did you mean "critical"? '
        "(expected one of: critical, error, warning, informational, verbose)",
    ]


def test_warnings_come_with_the_errors(tmp_path):
    cfg = tmp_path / "routing.yaml"
    cfg.write_text(FIVE_TYPOS.replace("    visibilty: full\n", ""))
    r = run_check(cfg)
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == (
        f"warning: {cfg}:3 channels.se.url: environment variable SE_URL is not set; notifications for channel "
        '"se" go to the log channel until it is')
    assert sum(line.startswith("error: ") for line in r.stderr.splitlines()) == 5


def problems(text: str) -> list[str]:
    try:
        loads(text, "routing.yaml", env={"SE_URL": "https://hooks.example.org/se/0123456789"})
    except ConfigError as exc:
        return exc.problems
    return []


BASE = """channels:
  se: {type: webhook, url: "${SE_URL}"}
roles:
  se: {channels: [se]}
time_windows:
  night: {ranges: [{start: "22:00", end: "24:00"}]}
routes:
  - name: pages
    roles: [se]
"""


def test_a_name_whose_definition_is_broken_is_not_called_undefined():
    """The role `se` has a schema error; the route naming it is not told `se` is undefined, and the
    channel with an unknown type still counts as defined for the role that names it."""
    text = (BASE.replace("type: webhook", "type: slack")
            .replace("  se: {channels: [se]}", "  se: {channels: [se], visibility: secret}"))
    assert problems(text) == [
        'routing.yaml:2 channels.se: unknown channel type "slack" (expected one of: email, log, pagerduty, smtp, '
        "teams, webhook)",
        "routing.yaml:4 roles.se.visibility: invalid value \"secret\": expected 'full' or 'restricted'",
    ]


def test_the_readable_rest_of_a_broken_item_is_still_checked():
    """A route with a wrong group_wait still has its roles, time windows and escalation checked; a
    second route after an unreadable one keeps its own position in the message."""
    text = BASE + """    group_wait: soon
    muted_during: [nigth]
    escalate: {after: 15m, to: [ops]}
  - roles: [se]
  - name: pages
    roles: [qa]
"""
    assert problems(text) == [
        'routing.yaml:10 routes[0].group_wait: value error, "soon" is not a duration; write it like 30s, 5m, 4h, '
        '1d or 2w, got "soon"',
        'routing.yaml:13 routes[1].name: missing required key "name"',
        'routing.yaml:14 routes[2].name: duplicate route name "pages" (also routes[0]); route names must be unique',
        'routing.yaml:15 routes[2].roles[0]: undefined role "qa"; define it under roles: or fix the name',
        'routing.yaml:11 routes[0].muted_during[0]: undefined time window "nigth" (did you mean "night"?); '
        "define it under time_windows: or fix the name",
        'routing.yaml:12 routes[0].escalate.to[0]: undefined role "ops"; define it under roles: or fix the name',
    ]


def test_an_unreadable_section_is_not_cross_checked():
    """`roles:` written as a list cannot be read: the routes naming roles get no "undefined role"."""
    text = BASE.replace("roles:\n  se: {channels: [se]}", "roles:\n  - se")
    assert problems(text) == ["routing.yaml:3 roles: input should be a valid dictionary, got a list"]


def test_a_valid_config_checks_clean(tmp_path):
    cfg = tmp_path / "routing.yaml"
    cfg.write_text(BASE)
    r = run_check(cfg, env={"SE_URL": "https://hooks.example.org/se/0123456789"})
    assert (r.exit_code, r.stderr, r.stdout) == (0, "", f"{cfg}: OK (1 channels, 1 roles, 1 routes)\n")


def test_a_yaml_syntax_error_is_the_one_problem_said_plainly(tmp_path):
    cfg = tmp_path / "routing.yaml"
    cfg.write_text(BASE.replace("  se: {channels: [se]}", "\tse: {channels: [se]}"))
    r = run_check(cfg)
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == (f"error: {cfg}:4 YAML syntax error at column 1: a tab; YAML indents with spaces only: "
                        "replace the tab with spaces\n")


def test_a_key_glued_to_its_value_is_explained():
    assert problems(BASE.replace("  se: {channels: [se]}", "  se:\n    channels:[se]")) == [
        'routing.yaml:4 roles.se: input should be a valid dictionary or instance of Role, got "channels:[se]"; '
        'YAML reads "channels:[se]" as one text: write a space after the ":"']


def test_a_short_secret_is_a_warning_and_check_still_passes(tmp_path):
    cfg = tmp_path / "routing.yaml"
    cfg.write_text(BASE.replace('url: "${SE_URL}"', 'url: "${SE_URL}", headers: {X-Key: "${SE_KEY}"}'))
    r = run_check(cfg, env={"SE_URL": "https://hooks.example.org/se/0123456789", "SE_KEY": "x"})
    assert r.exit_code == 0
    assert r.stderr == (f"warning: {cfg}:2 channels.se.headers.X-Key: a secret from ${{SE_KEY}} is shorter than 8 "
                        "characters; that looks like a placeholder, and masking it would hide the same text wherever "
                        "it appears in previews, the console and kept answers: set the real secret\n")
