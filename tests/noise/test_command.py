"""`alertrouter noise` on a data dir's store: tables within 80 columns or one JSON document, each
suggestion replayed, and every bad option answered with what, where and how to fix it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from alertrouter.cli.main import main
from alertrouter.store.sqlite import SqliteStore
from tests.replay.configs import BASE, ENV
from tests.replay.conftest import record
from tests.replay.month import START, Month

DAYS = 16  # three storms, five flapping days, sixteen nightly retrains
FROM, TO = START.isoformat(), (START + timedelta(days=DAYS)).isoformat()
NO_SECRETS = {k: None for k in ENV}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, the_month):
    d = tmp_path_factory.mktemp("data")
    store = SqliteStore(d / "alertrouter.db")
    record(store, Month([e for e in the_month.events if e.time < START + timedelta(days=DAYS)], []), d)
    store.close()
    (d / "routing.yaml").write_text(BASE, encoding="utf-8")
    return d


def run(data_dir, *args):
    return CliRunner().invoke(main, ["noise", "--config", str(data_dir / "routing.yaml"), "--data-dir",
                                     str(data_dir), *map(str, args)], env=NO_SECRETS)


def test_tables_fit_80_columns_and_say_what_replay_measured(data_dir):
    r = run(data_dir, "--from", FROM, "--to", TO)
    assert r.exit_code == 0, r.output
    out = r.stdout
    for title in ("Rules that notify most (top 5)", "Flapping (fired again within 30 min of resolving, 3+ times)",
                  "Resolved before anyone could act (within 5 min), yet notified",
                  "Pages per night for on-call (22:00-07:00 UTC)\n  time zone: UTC (the config names no time zone)",
                  "Notices held by each stage", "Fired together", "Same hour most days (UTC)"):
        assert title in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "  disk-latency  vm-data-1     45     5" in out  # 9 flaps a day on days 1, 4, 8, 11 and 15
    said = " ".join(out.split())  # wrapped at 80 columns
    assert "inhibit for cpu-high: -44 notifications to software-engineer; replay measured -44" in said
    assert "      - name: endpoint-5xx-holds-cpu-high" in out


def test_json_is_one_document_with_measured_suggestions(data_dir):
    r = run(data_dir, "--from", FROM, "--to", TO, "--json", "--flap-within", "10m", "--night", "12-20")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["period"] == {"from": FROM, "to": TO}
    assert doc["options"]["flap_within_s"] == 600 and doc["options"]["night"] == "12-20"
    assert doc["top_rules"][0]["rule"] == "endpoint-5xx"
    assert doc["pages_per_night"]["pages"] > 0  # the storms came between noon and 8 pm
    inhibit = next(s for s in doc["suggestions"] if s["kind"] == "inhibit")
    assert inhibit["replay_measured"] >= inhibit["reduces"]["by"] > 0
    assert "inhibit_rules:" in inhibit["snippet"]


def test_no_verify_leaves_the_figures_unmeasured(data_dir):
    r = run(data_dir, "--from", FROM, "--to", TO, "--json", "--no-verify")
    assert r.exit_code == 0, r.output
    assert {s["replay_measured"] for s in json.loads(r.stdout)["suggestions"]} == {None}


@pytest.mark.parametrize("args, said", [
    (["--night", "25-07"], "--night '25-07' is not a night; write its hours as START-END, like 22-07"),
    (["--flap-within", "soon"], '--flap-within: "soon" is not a duration; write it like 30s, 5m, 4h, 1d or 2w'),
    (["--act-within", "0m"], "--act-within '0m': must be longer than zero"),
    (["--since", "7d", "--from", FROM], "give either --since or --from/--to, not both"),
    (["--on-call", "night-owl"], "--on-call 'night-owl': "),
])
def test_bad_options_say_what_and_how(data_dir, args, said):
    r = run(data_dir, *args)
    assert r.exit_code == 2
    assert said in r.stderr


def test_a_missing_config_says_where_it_looked(data_dir, tmp_path):
    r = CliRunner().invoke(main, ["noise", "--config", str(tmp_path / "nope.yaml"), "--data-dir", str(data_dir)])
    assert r.exit_code == 1 and "nope.yaml: file not found" in r.stderr
