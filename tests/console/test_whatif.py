"""The routing page's what-if over HTTP: a pasted or uploaded routing.yaml is checked with the
problems `alertrouter check` prints, then the last 7 days are replayed under it; nothing of it is
written or logged; big ones, forms without the token, and visitors who may not read are refused;
a period with more events than the cap replays its most recent part and says so."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from datetime import datetime, timedelta, timezone

import pytest
import requests
from click.testing import CliRunner

from alertrouter.cli.main import main as cli
from alertrouter.console.whatif import MAX_CONFIG_BYTES, SHOWN_CHANGES, referenced_values
from alertrouter.replay import replay
from tests.console.conftest import OPERATOR_KEY, alert, csrf_of, post_alert
from tests.console.seeded import (DROP_QA, files_under, problems_on, seeded_month, seeded_server,  # noqa: F401
                                  seeded_store, store_snapshot, whatif_form)
from tests.replay.configs import config
from tests.replay.month import END

YAML_ERROR = """version: 1
roles:
  on-call: {channels: [pager]
routes: []
"""
SCHEMA_ERRORS = """version: 1
channels:
  pager: {type: pagerdutty, routing_key: "${PD_KEY}"}
roles:
  on-call: {channels: [pager, nowhere]}
routes:
  - name: pages
    match: {severity: {at_least: eror}}
    roles: [on-call, nobody]
    group_wait: soon
"""
UNRESOLVED = """version: 1
channels:
  ops-teams: {type: teams, url: "${OPS_TEAMS_URL}"}
  later-hook: {type: webhook, url: "${WHATIF_HOOK_NOT_SET}"}
roles:
  data-scientist: {channels: [ops-teams, later-hook]}
routes:
  - name: everything
    match: {}
    roles: [data-scientist]
"""
PASTED_SECRET = "sig=PastedSecret-9f2c"


def check_says(tmp_path, monkeypatch, text: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) `alertrouter check routing.yaml` prints for `text`, run in its folder."""
    folder = tmp_path / "check"
    folder.mkdir(exist_ok=True)
    (folder / "routing.yaml").write_text(text)
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, ["check", "routing.yaml"])
    lines = result.output.splitlines()
    return ([line[len("error: "):] for line in lines if line.startswith("error: ")],
            [line[len("warning: "):] for line in lines if line.startswith("warning: ")])


def warnings_on(html: str) -> list[str]:
    import html as html_lib

    found = re.search(r'<ul class="warnings">(.*?)</ul>', html, re.S)
    return [html_lib.unescape(w) for w in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)] if found else []


@pytest.mark.parametrize("text", [YAML_ERROR, SCHEMA_ERRORS], ids=["yaml-syntax", "schema"])
def test_a_bad_config_gets_the_problems_check_prints(open_server, tmp_path, monkeypatch, text):
    errors, warnings = check_says(tmp_path, monkeypatch, text)
    assert errors
    page = whatif_form(requests.Session(), open_server, text)
    assert page.status_code == 400
    assert problems_on(page.text) == errors
    assert warnings_on(page.text) == warnings
    assert f"routing.yaml has {len(errors)} problem(s); nothing was replayed" in page.text
    assert "Events whose outcome changed" not in page.text
    assert ">\n" + text.replace('"', "&#34;") + "</textarea>" in page.text  # shown back to be fixed


def test_environment_references_resolve_as_check_resolves_them(open_server, tmp_path, monkeypatch):
    errors, warnings = check_says(tmp_path, monkeypatch, UNRESOLVED)
    assert errors == [] and any("WHATIF_HOOK_NOT_SET" in w for w in warnings)
    assert not any("OPS_TEAMS_URL" in w for w in warnings)  # set in this environment
    page = whatif_form(requests.Session(), open_server, UNRESOLVED)
    assert page.status_code == 200, page.text
    assert warnings_on(page.text) == warnings
    assert re.search(r"Replayed 0 event\(s\) from .* under routing\.yaml", page.text)


SERVER_SECRETS = """version: 1
channels:
  hook: {type: webhook, url: "https://hooks.example.invalid/${SMTP_PASSWORD}"}
  mail: {type: smtp, host: 127.0.0.1, port: 2525, sender: alerts@contoso.com, to: ["${SMTP_PASSWORD}"],
         password: "${SMTP_PASSWORD}"}
roles:
  r: {channels: [hook, mail], recipients: {to: ["${SMTP_PASSWORD}"]}}
routes:
  - {name: everything, match: {}, roles: [r]}
"""


def test_the_servers_secrets_never_reach_the_page(open_server):
    """A pasted config may name the server's environment variables; their values stay out of the page."""
    doc = alert(1)
    doc["data"]["essentials"]["firedDateTime"] = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    post_alert(open_server, doc)
    page = whatif_form(requests.Session(), open_server, SERVER_SECRETS)
    assert page.status_code == 200, page.text
    assert "Replayed 1 event(s)" in page.text and "now reaches r" in page.text
    assert "smtp-Pa55word" not in page.text
    # a secret the channel refuses is one of check's problems, said without the value
    signed = SERVER_SECRETS.replace('/${SMTP_PASSWORD}"}', '/${SMTP_PASSWORD}", signing_secret: "${SMTP_PASSWORD}"}')
    page = whatif_form(requests.Session(), open_server, signed)
    assert page.status_code == 400
    assert "channels.hook: webhook hook: signing_secret must look like whsec_" in page.text
    assert "smtp-Pa55word" not in page.text
    # what a failure's message is masked with: the values of the variables the pasted text names
    assert referenced_values(SERVER_SECRETS, os.environ) == ("smtp-Pa55word",)


def test_the_replay_of_the_last_7_days_is_the_commands(seeded_server, seeded_store, seeded_month):
    page = whatif_form(requests.Session(), seeded_server, DROP_QA)
    assert page.status_code == 200, page.text
    report = replay(config("drop-qa"), seeded_store, END - timedelta(days=7), END)
    runs = [e for e in seeded_month.events if e.kind.startswith("run.") and e.time >= END - timedelta(days=7)]
    assert {c.event.id for c in report.changed} == {e.id for e in runs}
    assert f"Replayed {report.events} event(s) from {(END - timedelta(days=7)):%Y-%m-%d %H:%M} to {END:%Y-%m-%d %H:%M}" \
        in page.text
    assert f"Events whose outcome changed: {len(runs)}</h3>" in page.text
    links = re.findall(r'<a href="/event\?id=([^"]+)"><code>', page.text)
    from urllib.parse import unquote

    assert [unquote(i) for i in links] == [c.event.id for c in report.changed]
    # every figure of the command's report, recorded beside replayed
    cells = lambda *c: "".join(f"<td>{x}</td>" for x in c)  # noqa: E731
    for (role, channel, day), n in report.recorded.per_role_channel_day.items():
        m = report.replayed.per_role_channel_day.get((role, channel, day), 0)
        change = f"{m - n:+d}" if m != n else ""
        assert (cells(role, channel, day) + f'<td class="num">{n}</td><td class="num">{m}</td>'
                f'<td class="num">{change}</td>') in page.text
    assert "no longer reaches quality-assurance: " in page.text


def test_an_uploaded_file_takes_the_place_of_the_text(seeded_server):
    page = whatif_form(requests.Session(), seeded_server, "not: [a config",
                       upload=("team-b/routing-new.yaml", DROP_QA.encode(), "application/yaml"))
    assert page.status_code == 200, page.text
    assert "under routing-new.yaml" in page.text
    bad = whatif_form(requests.Session(), seeded_server, DROP_QA, upload=("new.yaml", b"\xff\xferoutes", "text/yaml"))
    assert bad.status_code == 400
    assert "new.yaml: not UTF-8 text (byte 0xff at offset 0); save the file as UTF-8 and upload it again" in bad.text


def test_nothing_is_written_or_logged(seeded_server, seeded_store, tmp_path, monkeypatch, caplog, capfd):
    scratch_tmp = tmp_path / "tmp"
    scratch_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_tmp))  # where the replay's scratch folder goes
    roots = [tmp_path, seeded_store.path.parent]  # the server's data dir, and the store's
    files_before = {str(r): files_under(r) for r in roots}
    before = store_snapshot(seeded_store)
    with_secret = DROP_QA.replace("channels:\n", "channels:\n  hook: {type: webhook, url: \"https://hooks.example.invalid/x?"
                                  + PASTED_SECRET + "\"}\n", 1)
    bad_with_secret = with_secret.replace("budget_per_minute: 4", "budget_per_minute: " + PASTED_SECRET)
    caplog.set_level(logging.DEBUG)
    s = requests.Session()
    assert whatif_form(s, seeded_server, with_secret).status_code == 200
    failed = whatif_form(s, seeded_server, bad_with_secret)
    assert failed.status_code == 400 and problems_on(failed.text)
    assert store_snapshot(seeded_store) == before
    assert {str(r): files_under(r) for r in roots} == files_before
    assert list(scratch_tmp.iterdir()) == []  # the replay's scratch folder is gone
    for r in roots:
        for path in r.rglob("*"):
            assert not path.is_file() or PASTED_SECRET.encode() not in path.read_bytes(), path
    out, err = capfd.readouterr()
    assert PASTED_SECRET not in caplog.text + out + err


def test_a_config_over_the_limit_is_refused(seeded_server):
    big = DROP_QA + "#" * (MAX_CONFIG_BYTES + 10) + "\n"
    for kwargs in ({"text": big}, {"upload": ("routing.yaml", big.encode(), "application/yaml")}):
        page = whatif_form(requests.Session(), seeded_server, **kwargs)
        assert page.status_code == 413
        assert "a routing.yaml here may be at most 256 KB. Replay a bigger one with `alertrouter replay --config FILE`." \
            in page.text.replace("&#96;", "`")
        assert "Replayed" not in page.text and "#####" not in page.text
    bigger = big + "#" * 40_000 + "\n"
    both = whatif_form(requests.Session(), seeded_server, bigger, upload=("routing.yaml", bigger.encode(), "text/yaml"))
    assert both.status_code == 413 and re.search(r"The form is \d+ KB; a routing.yaml here may be at most 256 KB", both.text)
    empty = whatif_form(requests.Session(), seeded_server, "  \n")
    assert empty.status_code == 400 and "Paste a routing.yaml in the box or choose a file to upload." in empty.text


def test_the_form_needs_its_csrf_token(seeded_server):
    s = requests.Session()
    s.get(seeded_server.url + "/routing", timeout=10)
    for csrf, headers in (("", {}), (csrf_of(requests.get(seeded_server.url + "/routing", timeout=10).text), {}),
                          (None, {"Sec-Fetch-Site": "cross-site"}), (None, {"Origin": "https://evil.example"})):
        if csrf is None:
            csrf = csrf_of(s.get(seeded_server.url + "/routing", timeout=10).text)
        page = s.post(seeded_server.url + "/routing/whatif", data={"csrf": csrf, "config": DROP_QA},
                      files={"upload": ("", b"")}, headers=headers, timeout=60)
        assert page.status_code == 403 and "Replayed" not in page.text
        # without the token the console refuses; from another site the local server's guard does first
        assert ("refused a POST from" if headers else "CSRF check failed") in page.text
    # a plain form post (not multipart) is refused in words
    page = s.post(seeded_server.url + "/routing/whatif", data={"csrf": "x", "config": DROP_QA}, timeout=10)
    assert page.status_code == 400 and "multipart/form-data" in page.text


def test_whoever_may_read_the_routing_page_may_run_it(keyed_server):
    anonymous = requests.Session()
    page = whatif_form(anonymous, keyed_server, UNRESOLVED, csrf="anything")
    assert page.status_code == 401 and "Operator key" in page.text
    reader = requests.Session()
    reader.headers["x-functions-key"] = OPERATOR_KEY
    page = whatif_form(reader, keyed_server, UNRESOLVED)
    assert page.status_code == 200 and "Replayed 0 event(s)" in page.text


def test_a_period_over_the_cap_replays_its_most_recent_events(seeded_server, seeded_month):
    seeded_server.console.whatif.max_events = 40
    page = whatif_form(requests.Session(), seeded_server, DROP_QA)
    assert page.status_code == 200, page.text
    week = sorted((e for e in seeded_month.events if END - timedelta(days=7) <= e.time < END),
                  key=lambda e: (e.time, e.id))
    first = week[-40].time
    replayed = sum(1 for e in week if e.time >= first)
    assert f"The store holds more than 40 events from the last 7 days, the most a what-if replays in one " \
           f"request: this replays the most recent ones, from {first:%Y-%m-%d %H:%M:%S} UTC." in page.text
    assert f"Replayed {replayed} event(s) from {first:%Y-%m-%d %H:%M}" in page.text


def test_a_long_list_of_changed_events_is_cut_and_says_so(seeded_server, seeded_month):
    seeded_server.console.whatif.days = 30
    page = whatif_form(requests.Session(), seeded_server, DROP_QA)
    runs = [e for e in seeded_month.events if e.kind.startswith("run.")]
    assert len(runs) > SHOWN_CHANGES
    assert f"Events whose outcome changed: {len(runs)}</h3>" in page.text
    assert len(re.findall(r'<a href="/event\?id=[^"]+"><code>', page.text)) == SHOWN_CHANGES
    assert f"The first {SHOWN_CHANGES} are listed; <code>alertrouter replay --json</code> gives them all." in page.text


def test_a_busy_week_is_not_read_whole_to_find_its_most_recent_events(tmp_path):
    """The cap's start is found by reading back from the end in growing windows: a week of an event
    every ten minutes (1,008), 40 to replay, reads a few windows' worth, not the week."""
    from alertrouter.app import App
    from alertrouter.console.whatif import WhatIf
    from alertrouter.model import Event
    from alertrouter.store.sqlite import SqliteStore

    class Counting(SqliteStore):  # the real store, counting the reads of a period and what they hand back
        read = reads = 0

        def events_between(self, start, end, kinds=None):
            found = super().events_between(start, end, kinds)
            Counting.read += len(found)
            Counting.reads += 1
            return found

    now = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    store = Counting(tmp_path / "alertrouter.db")
    week = [Event(id=f"ev-{i}", source="aml", kind="run.completed", severity="informational", title=f"run {i}",
                  time=now - timedelta(minutes=10 * i + 5), fingerprint=f"run:{i}") for i in range(1008)]
    store.ingest([(e, []) for e in week], now.timestamp())
    whatif = WhatIf(App(config(), tmp_path, store=store, clock=lambda: now.timestamp()), max_events=40)
    start, end, capped = whatif.period()
    assert (start, end) == (week[39].time, now)  # the 40th most recent
    assert capped.startswith("The store holds more than 40 events from the last 7 days")
    assert Counting.read < 100, Counting.read  # the last hour, then as far as its rate says: 58 events of 1,008
    assert whatif.period()[0] == start  # the same answer again
    # a week under the cap: its last hour, then the rest (on Azure every read is a scan)
    Counting.reads = 0
    assert WhatIf(whatif.app, max_events=2000).period() == (now - timedelta(days=7), now, "")
    assert Counting.reads == 2
    store.close()
