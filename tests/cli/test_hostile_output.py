"""The commands that print payload text, stored records or a receiver's answer to a terminal
(`route`, `render`, `outbox list | show`, `silence list`, `send`, `demo`, `digest`): an alert
whose rule, id or labels carry escape sequences (clear screen, an OSC 8 hyperlink, C1 CSI), CR/LF
or bidi controls, a silence's comment, a receiver's answer, must reach the terminal as visible
escapes: no output line holds a control character, and none is forged."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from alertrouter.app import App
from alertrouter.cli.main import main
from alertrouter.config.load import load
from alertrouter.digest import PeriodLedger
from alertrouter.digest.coverage import NO_DATA
from alertrouter.inbound import parse_payload
from alertrouter.pipeline import silences
from alertrouter.store.base import Attempt, Notification
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import FIXTURES
from tests.hostile import control_leaks

# Clear the screen, an OSC 8 hyperlink, a forged line, a right-to-left override, a C1 CSI.
BAD = "\x1b[2J\x1b]8;;http://evil\x07click\x1b]8;;\x07\r\nFAKE LINE \u202eexe.txt \x9b31m"
RULE = "cpu-high" + BAD
ENV = {"ALERTROUTER_STORE": "sqlite", "ALERTROUTER_API_KEY": None}

CONFIG = """
version: 1
channels:
  log: {type: log}
  mail: {type: smtp, host: 127.0.0.1, port: SMTP_PORT, starttls: false, sender: alertrouter@contoso.com,
         timeout_seconds: 5}
roles:
  ops:
    channels: [log]
    templates: tpl
  analyst:
    channels: [mail]
    templates: tpl
    recipients: {to: [analysts@contoso.com]}
routes:
  - name: pages
    match: {alert_rule: disk-full}
    roles: [ops]
  - name: platform
    match: {source: azure-monitor}
    roles: [ops]
    group_by: [alert_rule]
    group_wait: 30s
digests:
  weekly:
    schedule: "0 0 8 * * Mon"
    time_zone: UTC
    roles: [analyst]
"""


def write_config(d: Path, smtp_port: int = 9) -> None:
    """The routing.yaml, and the roles' own templates: the digest's subject names the top rule; the
    digest's text part and the log channel's text fail with an error that quotes an alert rule."""
    (d / "routing.yaml").write_text(CONFIG.replace("SMTP_PORT", str(smtp_port)))
    (d / "tpl" / "email").mkdir(parents=True)
    (d / "tpl" / "log").mkdir()
    (d / "tpl" / "email" / "digest.subject.j2").write_text("Top rule: {{ top_rules[0].rule }}")
    (d / "tpl" / "email" / "digest.text.j2").write_text("{{ top_rules[0].rule.encode(top_rules[0].rule) }}")
    (d / "tpl" / "log" / "_default.text.j2").write_text("{{ labels.alert_rule.encode(labels.alert_rule) }}")


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], env=ENV)


def leaks(out: str) -> list[str]:
    return [leak for line in out.split("\n") for leak in control_leaks(line)]


def assert_shown(out: str, crlf: bool = True) -> None:
    """The hostile text is there, as escapes, and forges no line (`crlf=False` where its line break
    cannot get through: an SMTP answer is one line)."""
    assert "\\x1b[2J" in out and "\\x1b]8;;http://evil\\x07click" in out and "\\u202eexe.txt" in out
    assert "\\x9b31m" in out or "\\u009b31m" in out  # text, or JSON
    if crlf:
        assert "\\r\\nFAKE LINE" in out
    assert not any(line.startswith("FAKE LINE") for line in out.split("\n"))


def assert_safe(result, crlf: bool = True) -> None:
    out = result.stdout + result.stderr
    assert leaks(out) == []
    assert_shown(out, crlf)


def hostile_alert(n: int = 0, fired: str | None = None) -> dict:
    """A real Azure Monitor metric alert (common alert schema) fired at `fired` (default: now; a
    silence holds what fires while it is active) with control text in its rule, id and description."""
    fired = fired or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = json.loads(next(FIXTURES.rglob("monitor-metric-static-fired.test-action.json")).read_text())
    ess = payload["data"]["essentials"]
    ess.update(alertRule=RULE, alertId=f"{ess['alertId']}-{n}{BAD}", description="about" + BAD, firedDateTime=fired)
    return payload


@pytest.fixture
def data_dir(tmp_path):
    """A routing.yaml, a silence whose author and comment carry control text, a hostile alert taken
    in by the real app (held by the silence), and a notification whose delivery attempt kept a
    receiver's hostile answer."""
    write_config(tmp_path)
    store = SqliteStore(tmp_path / "alertrouter.db")
    now = time.time()
    silences.create(store, matchers={"resource": "test-storageAccount"}, starts_at=now, ends_at=now + 3600,
                    created_by="mallory" + BAD, comment="maintenance" + BAD, now=now)
    app = App(load(tmp_path / "routing.yaml"), tmp_path, store=store)
    app.ingest(parse_payload(hostile_alert(1)).events)
    [event] = parse_payload(hostile_alert(2)).events
    store.ingest([(event, [Notification(id="n_hostile0001", event_id=event.id, route="platform", role="ops" + BAD,
                                        channel="mail")])], now)
    [n] = store.claim(now, 10, 30, "cli-test")
    store.finish(n, "cli-test", Attempt(n.id, 1, now, "failed", "smtp mail: server answered 554" + BAD), "dead",
                 now, now)
    store.close()
    (tmp_path / "payload.json").write_text(json.dumps(hostile_alert(3)), encoding="utf-8")
    return tmp_path


def test_route_prints_the_trail_the_id_and_a_silence_reason_escaped(data_dir):
    r = run("route", data_dir / "payload.json", "--config", data_dir / "routing.yaml", "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    assert "  id: /subscriptions/" in r.stdout and "route pages: no match:" in r.stdout
    assert "silenced by s_" in r.stdout
    assert_safe(r)


@pytest.mark.parametrize("command", [["route"], ["render", "--channel", "log"]])
def test_an_unknown_payloads_keys_are_named_escaped(tmp_path, command):
    write_config(tmp_path)
    (tmp_path / "odd.json").write_text(json.dumps({"key" + BAD: 1}))
    r = run(command[0], tmp_path / "odd.json", *command[1:], "--config", tmp_path / "routing.yaml")
    assert r.exit_code == 2 and "unknown payload: keys key\\x1b[2J" in r.stderr
    assert_safe(r)


def test_route_json_stays_json_without_raw_controls(data_dir):
    r = run("route", data_dir / "payload.json", "--config", data_dir / "routing.yaml", "--data-dir", data_dir,
            "--json")
    assert r.exit_code == 0, r.output
    assert leaks(r.stdout) == []
    [ev] = json.loads(r.stdout)["events"]
    assert ev["labels"]["alert_rule"] == RULE


def test_render_prints_the_label_template_errors_and_the_json_escaped(data_dir):
    r = run("render", data_dir / "payload.json", "--channel", "log", "--config", data_dir / "routing.yaml",
            "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    label = next(line for line in r.stdout.split("\n") if line.startswith("── "))
    assert "alert_rule=cpu-high\\x1b[2J" in label
    error = next(line for line in r.stdout.split("\n") if line.startswith("   template error in text: "))
    assert "_default.text.j2:1: LookupError: unknown encoding: cpu-high\\x1b[2J" in error
    body = json.loads(r.stdout[r.stdout.index("\n{") + 1:])  # still JSON, with the same text
    assert body["title"] == "1 firing: alert_rule=" + RULE
    assert_safe(r)


def test_outbox_list_prints_held_reasons_and_attempt_details_escaped(data_dir):
    r = run("outbox", "list", "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    assert "silenced by s_" in r.stdout and "server answered 554" in r.stdout
    assert_safe(r)
    j = run("outbox", "list", "--data-dir", data_dir, "--json")
    assert leaks(j.stdout) == [] and any(n["last_detail"].endswith(BAD) for n in json.loads(j.stdout))


def test_outbox_show_prints_the_attempts_and_target_escaped(data_dir):
    r = run("outbox", "show", "n_hostile0001", "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    assert "#1  failed    smtp mail: server answered 554\\x1b[2J" in r.stdout
    assert "role ops\\x1b[2J" in r.stdout
    assert_safe(r)


def test_outbox_show_lists_the_candidates_of_a_short_prefix_escaped(data_dir):
    r = run("outbox", "show", "n_", "--data-dir", data_dir)
    assert r.exit_code == 1 and "is the start of 2 notification ids" in r.stderr
    assert "n_hostile0001  dead     ops\\x1b[2J" in r.stderr
    assert_safe(r)


def test_silence_list_prints_author_and_comment_escaped(data_dir):
    r = run("silence", "list", "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    assert "by mallory\\x1b[2J" in r.stdout and ": maintenance\\x1b[2J" in r.stdout
    assert_safe(r)


def test_send_prints_the_answer_escaped_keeping_its_lines(data_dir, httpserver):
    httpserver.expect_request("/api/alerts").respond_with_data(f"accepted\n{BAD}\n", status=200,
                                                               content_type="text/plain; charset=utf-8")
    r = run("send", data_dir / "payload.json", "--url", httpserver.url_for("/"))
    assert r.exit_code == 0, r.output
    assert leaks(r.output) == []
    # the answer is printed as it is laid out (its line feeds stay), its CR and every other control escaped
    assert r.stdout.split("\n")[1:4] == ["accepted", "\\x1b[2J\\x1b]8;;http://evil\\x07click\\x1b]8;;\\x07\\r",
                                       "FAKE LINE \\u202eexe.txt \\x9b31m"]


def test_demo_prints_a_refusal_escaped(httpserver):
    httpserver.expect_request("/api/health").respond_with_json({"status": "ok"})
    httpserver.expect_request("/api/eventgrid").respond_with_data(f"no\n{BAD}", status=400,
                                                                  content_type="text/plain; charset=utf-8")
    r = run("demo", "--url", httpserver.url_for("/").rstrip("/"))
    assert r.exit_code == 1 and "HTTP 400: no\\n\\x1b[2J" in r.stderr
    assert_safe(r)


# --- digest ---


class HostileSmtp:
    """An SMTP server on loopback that refuses every sender with control text in its answer."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as f:
                conn.sendall(b"220 stand-in\r\n")
                for line in f:
                    verb = line[:4].upper()
                    if verb == b"MAIL":
                        conn.sendall(b"554 5.7.1 " + BAD.replace("\r\n", " ").encode() + b"\r\n")
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 ok\r\n")

    def close(self):
        self.sock.close()


@pytest.fixture
def digest_dir(tmp_path):
    """Alerts of the week of 19 Oct 2026 from a rule with control text in its name (the top rule),
    and an SMTP server whose refusal carries control text."""
    smtp = HostileSmtp()
    write_config(tmp_path, smtp.port)
    store = SqliteStore(tmp_path / "alertrouter.db")
    received = datetime(2026, 10, 20, 10, 0, 5, tzinfo=timezone.utc).timestamp()
    for n in range(3):
        store.ingest([(e, []) for e in parse_payload(hostile_alert(n, "2026-10-20T10:00:00.000Z")).events],
                     received + n)
    store.close()
    yield tmp_path
    smtp.close()


def digest(d: Path, *more):
    return run("digest", "weekly", "--period-end", "2026-10-26", "--config", d / "routing.yaml", "--data-dir", d,
               *more)


def test_digest_preview_prints_the_subject_and_template_errors_escaped(digest_dir):
    r = digest(digest_dir)
    assert r.exit_code == 0, r.output
    assert "Subject: Top rule: cpu-high\\x1b[2J" in r.stdout
    assert "template error in text (plain rendering used): email/digest.text.j2: LookupError: unknown encoding: " \
           "cpu-high\\x1b[2J" in r.stderr
    assert_safe(r)


def test_digest_send_prints_each_receivers_answer_escaped(digest_dir):
    r = digest(digest_dir, "--send")
    assert r.exit_code == 1 and "analyst via mail: failed (smtp mail: server answered 554 5.7.1" in r.stdout
    assert_safe(r, crlf=False)  # an SMTP answer is one line


def test_digest_send_prints_a_stored_period_record_escaped(digest_dir):
    store = SqliteStore(digest_dir / "alertrouter.db")
    ledger = PeriodLedger(store)
    key = "2026-10-19T00:00:00+00:00"
    assert ledger.claim("weekly", key, "2026-10-26T00:00:00+00:00", "elsewhere", time.time())
    ledger.finish("weekly", key, NO_DATA, "nothing" + BAD, time.time())
    store.close()
    r = digest(digest_dir, "--send")
    assert r.exit_code == 1 and "not sent: no data (nothing\\x1b[2J" in r.stderr
    assert_safe(r)



