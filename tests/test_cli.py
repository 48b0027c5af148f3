"""The `alertrouter` command: check, route (text and --json), send, and their exit codes."""

from __future__ import annotations

import json

from click.testing import CliRunner

from alertrouter.cli.main import main
from tests.conftest import FIXTURES, ROOT, captured

SHIPPED = str(ROOT / "routing.yaml")


def fixture_path(name: str) -> str:
    return str(next(FIXTURES.rglob(name)))


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env or {})


def test_check_ok_with_warnings_for_unset_urls():
    r = run("check", SHIPPED, env={"SE_TEAMS_WEBHOOK_URL": ""})
    assert r.exit_code == 0
    assert r.stdout.strip().endswith("OK (6 channels, 5 roles, 8 routes)")
    assert "environment variable SE_TEAMS_WEBHOOK_URL is not set" in r.stderr


def test_check_errors_exit_1(tmp_path):
    bad = tmp_path / "routing.yaml"
    bad.write_text("roles:\n  a: {channels: [nope]}\n")
    r = run("check", str(bad))
    assert r.exit_code == 1
    assert r.stderr == (f'error: {bad}:2 roles.a.channels[0]: undefined channel "nope"; '
                        "define it under channels: or fix the name\n")


def test_route_json_lists_routes_roles_channels():
    r = run("route", fixture_path("aml-runstatuschanged-failed.eventgrid.json"), "--config", SHIPPED, "--json")
    assert r.exit_code == 0, r.output
    [ev] = json.loads(r.stdout)["events"]
    assert (ev["source"], ev["kind"], ev["severity"]) == ("aml", "run.failed", "error")
    assert ev["routes"] == ["run-results", "experiment-lifecycle"]
    assert ev["roles"] == ["data-scientist", "quality-assurance"]
    assert ev["channels"] == ["log"]  # the webhook URLs are not set here
    assert ev["targets"][0] == {"route": "run-results", "role": "data-scientist", "channel": "log",
                                "instead_of": "ds-teams", "action": "send"}
    assert {"id", "title", "labels"} <= set(ev)


def test_route_writes_nothing_where_it_runs(tmp_path, monkeypatch):
    """Without a store file `route` consults an empty in-memory one: no lock file is left behind."""
    monkeypatch.chdir(tmp_path)
    r = run("route", fixture_path("aml-runstatuschanged-failed.eventgrid.json"), "--config", SHIPPED, "--data-dir",
            str(tmp_path / "data"), "--json")
    assert r.exit_code == 0, r.output
    assert list(tmp_path.iterdir()) == []


def test_route_json_configured_channel():
    r = run("route", fixture_path("monitor-metric-static-fired.test-action.json"), "--config", SHIPPED, "--json",
            env={"SE_TEAMS_WEBHOOK_URL": "https://example.invalid/workflows/x?sig=y"})
    [ev] = json.loads(r.stdout)["events"]
    assert (ev["routes"], ev["roles"], ev["channels"]) == (["platform-alerts"], ["software-engineer"],
                                                           ["se-teams", "log"])  # ops-webhook unset → log


def test_route_json_handshake():
    r = run("route", fixture_path("eventgrid-subscriptionvalidation.request.json"), "--config", SHIPPED, "--json")
    assert json.loads(r.stdout) == {"events": [], "handshake": {"validationResponse":
                                                                "512d38b6-c7b8-40c8-89fe-f46f9e9622b6"}}


def test_route_text_explains_each_route():
    r = run("route", fixture_path("monitor-budget-fired.test-action.json"), "--config", SHIPPED)
    assert r.exit_code == 0
    assert "route production-pages: no match: severity at_least error (value \"warning\")" in r.stdout
    assert "route cost-and-budgets: match" in r.stdout
    assert "→ business-analyst via log (instead of team-email: its environment variables are not set)" in r.stdout


def test_route_unreadable_payload_exit_2(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = run("route", str(bad), "--config", SHIPPED)
    assert r.exit_code == 2
    assert r.stderr == f"error: {bad}: malformed JSON at line 1 column 2: Expecting property name enclosed in double quotes\n"
    unknown = tmp_path / "unknown.json"
    unknown.write_text('{"foo": 1}')
    r = run("route", str(unknown), "--config", SHIPPED)
    assert r.exit_code == 2 and "unknown payload: keys foo." in r.stderr
    r = run("route", str(tmp_path / "missing.json"), "--config", SHIPPED)
    assert r.exit_code == 2 and "cannot read payload" in r.stderr


def test_send_posts_with_the_right_endpoint_and_headers(server, httpserver):
    r = run("send", fixture_path("aml-runcompleted.cloudevents.json"), "--url", server.url)
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("POST /api/eventgrid: HTTP 200")
    r = run("send", fixture_path("monitor-budget-fired.test-action.json"), "--url", server.url)
    assert r.stdout.startswith("POST /api/alerts: HTTP 200")
    r = run("send", fixture_path("eventgrid-subscriptionvalidation.request.json"), "--url", server.url)
    assert '"validationResponse"' in r.stdout
    assert sorted(b["data"]["kind"] for b in captured(httpserver, 2)) == ["alert.fired", "run.completed"]


def test_send_to_nothing_says_so():
    r = run("send", fixture_path("monitor-budget-fired.test-action.json"), "--url", "http://127.0.0.1:9")
    assert r.exit_code == 1
    assert "cannot reach the router at http://127.0.0.1:9" in r.stderr


def test_render_out_writes_masked_secrets_into_html_as_text(tmp_path):
    """A secret that made it into a rendered part is masked; in the .html file the mask is escaped, so
    a browser shows "<redacted>" instead of swallowing it as an unknown tag."""
    secret = "Experiment-Pa55word"
    (tmp_path / "routing.yaml").write_text(f"""
channels:
  mail: {{type: smtp, host: 127.0.0.1, port: 2525, sender: alerts@contoso.com, to: [ml@contoso.com],
          password: "${{SMTP_PASSWORD}}"}}
roles:
  ds: {{channels: [mail]}}
routes:
  - {{name: all, match: {{}}, roles: [ds]}}
""")
    payload = json.loads(next(ROOT.glob("tests/fixtures/aml/aml-runstatuschanged-failed.eventgrid.json")).read_text())
    payload[0]["data"]["experimentName"] = secret
    (tmp_path / "payload.json").write_text(json.dumps(payload))
    result = run("render", str(tmp_path / "payload.json"), "--channel", "mail", "--config",
                 str(tmp_path / "routing.yaml"), "--out", str(tmp_path / "out"), env={"SMTP_PASSWORD": secret})
    assert result.exit_code == 0, result.output
    [page] = (tmp_path / "out").glob("*.html")
    text = page.read_text()
    assert secret not in text and "&lt;redacted&gt;" in text and "<redacted>" not in text


def test_a_missing_config_advice_fits_the_command(tmp_path, monkeypatch):
    """`check` takes the path as its argument, the other commands as --config: each one's advice, when
    followed, works."""
    monkeypatch.chdir(tmp_path)
    r = run("check", "missing.yaml")
    assert r.exit_code == 1
    assert r.stderr == (f"error: missing.yaml: file not found (looked for {tmp_path / 'missing.yaml'}); check the "
                        "path, or give the path of your routing config as the argument: alertrouter check PATH\n")
    assert "--config" not in r.stderr
    assert run("check", SHIPPED).exit_code == 0  # the advice followed
    r = run("route", fixture_path("monitor-budget-fired.test-action.json"))
    assert r.exit_code == 1
    assert r.stderr.startswith("error: routing.yaml: file not found")
    assert r.stderr.endswith("run it in the folder that holds routing.yaml, or give the path of your routing "
                             "config with --config PATH\n")
    assert run("route", fixture_path("monitor-budget-fired.test-action.json"), "--config", SHIPPED).exit_code == 0
    r = run("digest", "weekly-summary", "--config", "nope.yaml")
    assert r.exit_code == 1 and r.stderr.endswith("give the path of your routing config with --config PATH\n")


def test_every_command_has_help_text():
    """Each command and option shows what it is for in --help."""
    import click

    def walk(cmd, path):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, path + [name])

    for path, cmd in walk(main, []):
        assert (cmd.help or "").strip(), f"`alertrouter {' '.join(path)}` has no help text"
        if path:
            listed = run(*path[:-1], "--help").stdout
            line = next(x for x in listed.splitlines() if x.strip().startswith(path[-1] + " "))
            assert len(line.split(None, 1)) == 2, line
    for sub in ("add", "list", "expire"):
        r = run("silence", sub, "--help")
        assert r.exit_code == 0
        options = [p for p in main.commands["silence"].commands[sub].params if isinstance(p, click.Option)]
        assert all(o.help for o in options), [o.name for o in options if not o.help]
    assert "--author TEXT    who is silencing" in run("silence", "add", "--help").stdout
    assert "expired ones too" in run("silence", "list", "--help").stdout
