"""`alertrouter replay` on a data dir's store: tables or one JSON document, secrets of the channels
not needed (nothing is sent), and every bad option answered with what, where and how to fix it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner

from alertrouter.cli.main import main
from alertrouter.replay.period import PeriodError, period
from alertrouter.store.sqlite import SqliteStore
from tests.replay.configs import BASE, CHANGES, ENV
from tests.replay.conftest import record
from tests.replay.month import START, Month

FROM, TO = START.isoformat(), (START + timedelta(days=4)).isoformat()
NO_SECRETS = {k: None for k in ENV}  # the operator replaying has none of the channels' secrets


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, the_month):
    """Four days of the month recorded in a data dir, as `serve` keeps it."""
    d = tmp_path_factory.mktemp("data")
    store = SqliteStore(d / "alertrouter.db")
    record(store, Month([e for e in the_month.events if e.time < START + timedelta(days=4)], []), d)
    store.close()
    return d


def run(*args):
    return CliRunner().invoke(main, ["replay", *map(str, args)], env=NO_SECRETS)


def write(tmp_path, change: str | None = None):
    text = BASE if change is None else BASE.replace(*CHANGES[change], 1)
    path = tmp_path / "new-routing.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_config_in_force_changes_nothing(data_dir, tmp_path):
    r = run("--config", write(tmp_path), "--from", FROM, "--to", TO, "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    out = r.stdout
    for section in ("Notifications per role, channel and day (UTC)", "Pages", "Notices held per stage",
                    "The router's own notices (events)"):
        assert section in out
    assert "whatever config was in force" in out
    assert "Events whose outcome changed: 0" in out
    assert "  on-call            pager     2026-11-05" in out  # the first storm's pages, recorded and replayed


def test_json_names_each_changed_event(data_dir, tmp_path):
    r = run("--config", write(tmp_path, "drop-qa"), "--from", FROM, "--to", TO, "--json", "--data-dir", data_dir)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["period"] == {"from": FROM, "to": TO}
    assert doc["changed_events"] and doc["source_events"] > len(doc["changed_events"])
    for c in doc["changed_events"]:
        assert c["kind"].startswith("run.")
        assert [ch["role"] for ch in c["changes"]] == ["quality-assurance"]
        assert c["changes"][0]["route"] == "experiment-lifecycle"
    reached = sum(r["count"] for r in doc["recorded"]["notifications"] if r["role"] == "quality-assurance")
    assert reached and not [r for r in doc["replayed"]["notifications"] if r["role"] == "quality-assurance"]
    assert any("whatever config was in force" in n for n in doc["notes"])


@pytest.mark.parametrize("args, said", [
    (["--since", "7d", "--from", "2026-11-01"], "give either --since or --from/--to, not both"),
    (["--since", "soon"], '--since: "soon" is not a duration; write it like 30s, 5m, 4h, 1d or 2w'),
    (["--from", "2026-13-01"], "--from '2026-13-01' is not a date; write it like 2026-11-30"),
    (["--from", "2026-11-05", "--to", "2026-11-01"], "is not after --from 2026-11-05T00:00:00+00:00: the period is empty"),
    (["--to", "2026-11-05"], "--to needs --from"),
])
def test_bad_periods_say_how_to_write_them(data_dir, tmp_path, args, said):
    r = run("--config", write(tmp_path), *args, "--data-dir", data_dir)
    assert r.exit_code == 2
    assert said in r.stderr


def test_a_config_that_does_not_load_exits_1_with_its_problems(data_dir, tmp_path):
    missing = run("--config", tmp_path / "nope.yaml", "--data-dir", data_dir)
    assert missing.exit_code == 1 and "nope.yaml: file not found" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("roles: [business-analyst]", "roles: [nobody]"), encoding="utf-8")
    r = run("--config", bad, "--data-dir", data_dir)
    assert r.exit_code == 1 and "nobody" in r.stderr


def test_period_defaults_and_offsets():
    now = START.timestamp()
    assert period(now) == (START - timedelta(days=7), START)
    assert period(now, since="12h") == (START - timedelta(hours=12), START)
    start, end = period(now, from_="2026-11-01T01:00:00+01:00", to="2026-11-02")
    assert (start.isoformat(), end.isoformat()) == ("2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00")
    with pytest.raises(PeriodError, match="--since '0d': the period must be longer than zero"):
        period(now, since="0d")
