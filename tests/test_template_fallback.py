"""A broken user template never loses a notice: `check` names every problem as FILE:LINE and fails;
start-up logs them and starts; at send time the built-in template is sent instead (and said why),
through the real server, dispatcher and a loopback Teams receiver."""

from __future__ import annotations

import json
import logging

import pytest
import requests
from click.testing import CliRunner

from alertrouter.app import App
from alertrouter.cli.main import main
from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer, plain
from tests.conftest import RunningServer, load_fixture, wait_until

ALERT = load_fixture("monitor-metric-static-fired.test-action.json")

CONFIG = """
channels:
  teams:
    type: teams
    url: ${TEAMS_URL}
roles:
  se:
    channels: [teams]
    templates: my-templates
routes:
  - {name: alerts, match: {}, roles: [se]}
"""

BROKEN = {  # file → (text, the problem `check` reports for it)
    "teams/alert.text.j2": ("{% if kind %}\n{{ summary }}\n{{ title }\n{% endif %}\n", ":3: unexpected '}'"),
    "teams/_default.title.j2": ("[{{ sev }}]\n{{ title | shout }}\n", ":2: No filter named 'shout'."),
    # Jinja leaves an unknown filter or test inside an {% if %} to run time; check still finds it
    "email/_default.subject.j2": ("{% if sev %}{{ title | whisper }}{% endif %}\n", ":1: No filter named 'whisper'."),
    "email/run.text.j2": ("ok\n{% if title is frobbed %}x{% endif %}\n", ":2: No test named 'frobbed'."),
}


def write(folder, files: dict[str, str]):
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


def config_dir(tmp_path, files: dict[str, str]) -> str:
    (tmp_path / "routing.yaml").write_text(CONFIG)
    write(tmp_path / "my-templates", files)
    return str(tmp_path / "routing.yaml")


def test_check_reports_every_template_problem_as_file_line_and_exits_1(tmp_path, monkeypatch):
    config = config_dir(tmp_path, {name: text for name, (text, _) in BROKEN.items()})
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["check", config], env={"TEAMS_URL": "https://example.invalid/teams"})
    assert r.exit_code == 1, r.output
    errors = [line.removeprefix("error: ") for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert sorted(errors) == sorted(f"my-templates/{name}{problem}" for name, (_, problem) in BROKEN.items())
    assert "OK" not in r.stdout


def test_check_reports_a_missing_template_folder_with_its_config_line(tmp_path):
    (tmp_path / "routing.yaml").write_text(CONFIG)
    r = CliRunner().invoke(main, ["check", str(tmp_path / "routing.yaml")], env={"TEAMS_URL": "https://x.invalid/t"})
    assert r.exit_code == 1
    assert f"error: {tmp_path / 'routing.yaml'}:9 roles.se.templates: template folder " in r.stderr
    assert "my-templates not found" in r.stderr


def test_check_passes_the_shipped_templates_and_a_good_override(tmp_path):
    config = config_dir(tmp_path, {"teams/alert.text.j2": "{{ title | upper }}\n{% if x is defined %}{% endif %}\n"})
    r = CliRunner().invoke(main, ["check", config], env={"TEAMS_URL": "https://example.invalid/teams"})
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith("OK (1 channels, 1 roles, 1 routes)")


def builtin_card(app, event) -> dict:
    """The card the shipped templates make for this event (what a broken override falls back to)."""
    channel = app.channels["teams"]
    msg = Renderer().render(event, route="alerts", role="se", channel="teams", channel_kind="teams",
                            parts=channel.parts)
    assert msg.template_errors == {}
    return channel.build(msg)["attachments"][0]["content"]


@pytest.mark.parametrize("broken, expect", [
    ("line one\n{{ title }\n", "my-templates/teams/alert.text.j2:2: unexpected '}'"),
    ("{{ summary | shout }}\n", "my-templates/teams/alert.text.j2:1: No filter named 'shout'."),
    ("{{ title }}\n\n{{ 1 / 0 }}\n", "my-templates/teams/alert.text.j2:3: ZeroDivisionError: division by zero"),
], ids=["syntax error", "unknown filter", "division by zero"])
def test_a_broken_template_sends_the_builtin_one_and_says_why(broken, expect, tmp_path, receiver, monkeypatch,
                                                              caplog):
    monkeypatch.chdir(tmp_path)  # file names in the messages are relative to it
    receiver.expect_request("/teams").respond_with_data("", status=202)
    config = config_dir(tmp_path, {"teams/alert.text.j2": broken})
    loaded = loads((tmp_path / "routing.yaml").read_text(), config, env={"TEAMS_URL": receiver.url_for("/teams")})
    app = App(loaded, tmp_path / "data")
    with caplog.at_level(logging.INFO), RunningServer(app) as server:
        resp = requests.post(server.url + "/api/alerts", json=ALERT, timeout=10)
        assert resp.status_code == 200, resp.text
        wait_until(lambda: receiver.log, 15, "the Teams delivery")
        wait_until(lambda: app.store.counts()["sent"] == 1, 10, "the notification recorded as sent")
    [(request, _)] = receiver.log
    card = json.loads(request.get_data())["attachments"][0]["content"]
    [event] = parse_payload(ALERT).events
    assert card == builtin_card(app, event)
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert any(expect in m and "built-in teams/alert.text.j2" in m for m in logged), logged
    assert all(receiver.url_for("/teams") not in m for m in logged)
    [n] = app.store.list("sent")
    assert n.attempts == 1  # sent at the first attempt, not retried
    msg = app.render(event, app.router.route(event).targets[0], app.channels["teams"])
    assert msg.template_errors["text"] == f"{expect} (sent the built-in teams/alert.text.j2)"


def test_functions_host_logs_template_problems_at_start_and_still_delivers(functions_env, tmp_path, httpserver,
                                                                           caplog):
    """The Functions app compiles every template when it is built: a broken one is logged with its
    FILE:LINE, the app starts, and the notification goes out with the built-in template."""
    import azure.functions as func

    from tests.conftest import CAPTURE_CONFIG, captured, indexed_functions

    (tmp_path / "routing.yaml").write_text(CAPTURE_CONFIG.replace("    channels: [capture]\n",
                                                                  "    channels: [capture]\n    templates: hooks\n"))
    write(tmp_path / "hooks",
          {"webhook/_default.text.j2": "{{ title }}\n{% for x in labels %}\n{{ x | nope }}\n{% endfor %}\n"})
    with caplog.at_level(logging.INFO):
        fn = indexed_functions()["monitor_alerts"].get_user_function()
        resp = fn(func.HttpRequest("POST", "/api/alerts", body=json.dumps(ALERT).encode(),
                                   headers={"Content-Type": "application/json"}))
    assert resp.status_code == 200
    file = tmp_path / "hooks" / "webhook" / "_default.text.j2"
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("template problem: ")]
    assert len(started) == 1 and started[0].startswith(f"template problem: {file}:3: No filter named 'nope'."), started
    [body] = captured(httpserver, 1)
    [event] = parse_payload(ALERT).events
    assert body["data"]["text"] == f"[VERBOSE] {event.title} — {event.summary}"  # the built-in webhook text


def test_render_previews_with_the_builtin_template_and_says_why(tmp_path, monkeypatch):
    config = config_dir(tmp_path, {"teams/alert.text.j2": "{% for x in labels %}\n{{ x }\n{% endfor %}\n"})
    monkeypatch.chdir(tmp_path)
    payload = tmp_path / "alert.json"
    payload.write_text(json.dumps(ALERT))
    r = CliRunner().invoke(main, ["render", str(payload), "--channel", "teams", "--config", config, "--data-dir",
                                  str(tmp_path / "data")], env={"TEAMS_URL": "https://example.invalid/teams"})
    assert r.exit_code == 0, r.output
    assert ("   template error in text: my-templates/teams/alert.text.j2:2: unexpected '}' "
            "(sent the built-in teams/alert.text.j2)") in r.stdout
    [event] = parse_payload(ALERT).events
    assert f'"text": "{event.summary}"' in r.stdout  # the built-in text: the alert's summary


def test_serve_logs_template_problems_at_start_and_serves(tmp_path):
    """`alertrouter serve` as a process: a broken template is logged with FILE:LINE when it starts,
    and it starts (refusing to start would lose every page)."""
    import os
    import subprocess
    import sys
    import time

    from tests.conftest import free_port

    config = config_dir(tmp_path, {"teams/run.text.j2": "{{ labels | tojson }}\n{{ title | shout }}\n"})
    port, out = free_port(), tmp_path / "serve.log"
    env = {**os.environ, "TEAMS_URL": "https://example.invalid/teams"}
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "alertrouter.cli", "serve", "--config", config, "--port",
                                 str(port), "--data-dir", str(tmp_path / "data")], cwd=tmp_path, env=env,
                                stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, out.read_text()
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(10)
    logged = out.read_text()
    assert "template problem: my-templates/teams/run.text.j2:2: No filter named 'shout'." in logged, logged


def test_without_a_builtin_template_for_the_part_the_plain_rendering_is_sent(tmp_path, caplog):
    """A template kind the router ships nothing for (a custom channel's `template_kind`): when it
    fails, the plain rendering goes out, and the result says so."""
    write(tmp_path, {"pager2/_default.text.j2": "{{ title }}\n{{ labels.resource / 2 }}\n"})
    [event] = parse_payload(ALERT).events
    with caplog.at_level(logging.ERROR):
        msg = Renderer().render(event, route="r", role="se", channel="p2", channel_kind="pager2", parts=("text",),
                                template_dirs=[str(tmp_path)])
    assert msg.text == plain(msg.view, "text") and msg.text.startswith(f"[VERBOSE] {event.title}\n")
    assert msg.template_errors["text"].endswith("pager2/_default.text.j2:2: TypeError: unsupported operand type(s) "
                                                "for /: 'str' and 'int' (sent the plain rendering)")
    assert any("sending the plain rendering" in r.getMessage() for r in caplog.records)
