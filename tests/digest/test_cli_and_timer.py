"""`alertrouter digest` (preview file, --send once, --force) and the Functions timer."""

from __future__ import annotations

import json
import shutil

import azure.functions as func
from azure.functions.timer import TimerRequest
from click.testing import CliRunner

from alertrouter.cli.digest import digest
from handlers import _runtime
from handlers import digest as digest_handler

from .conftest import DIGEST_CONFIG
from .html_tools import parse


def config_file(tmp_path, port: int):
    path = tmp_path / "routing.yaml"
    path.write_text(DIGEST_CONFIG.replace("PORT", str(port)))
    return path


def test_preview_writes_an_html_file_a_person_can_open(store, tmp_path):
    out = tmp_path / "preview"
    result = CliRunner().invoke(digest, ["weekly-summary", "--period-end", "2026-10-26", "--out", str(out),
                                         "--config", str(config_file(tmp_path, 9)),
                                         "--data-dir", str(store.path.parent)])
    assert result.exit_code == 0, result.output
    html_file = out / "weekly-summary-2026-10-19-business-analyst.html"
    assert f"wrote {html_file.resolve().as_uri()}" in result.output
    assert "Subject: Weekly summary: 19 – 25 Oct 2026" in result.output
    doc = parse(html_file.read_text(encoding="utf-8"))
    assert [h.attrs["id"] for h in doc.all("h2")][:3] == ["summary", "runs", "experiments"]
    assert "TRAINING RUNS" in (out / "weekly-summary-2026-10-19-business-analyst.txt").read_text(encoding="utf-8")
    # nothing was sent or recorded
    from alertrouter.digest import PeriodLedger

    assert PeriodLedger(store).get("weekly-summary", "2026-10-19T00:00:00+02:00") is None

    restricted = CliRunner().invoke(digest, ["weekly-summary", "--period-end", "2026-10-26", "--out", str(out),
                                             "--role", "quality-assurance", "--config",
                                             str(config_file(tmp_path, 9)), "--data-dir", str(store.path.parent)])
    assert restricted.exit_code == 0, restricted.output
    assert "<a " not in (out / "weekly-summary-2026-10-19-quality-assurance.html").read_text(encoding="utf-8")


def test_send_records_the_period_and_force_sends_again(store, tmp_path, smtp_server):
    server = smtp_server()
    args = ["weekly-summary", "--period-end", "2026-10-26", "--send", "--config",
            str(config_file(tmp_path, server.port)), "--data-dir", str(store.path.parent)]
    first = CliRunner().invoke(digest, args)
    assert first.exit_code == 0, first.output
    assert "weekly-summary 19 – 25 Oct 2026: sent" in first.output
    assert len(server.inbox.envelopes) == 2
    again = CliRunner().invoke(digest, args)
    assert again.exit_code == 1 and "already sent" in again.output
    forced = CliRunner().invoke(digest, args + ["--force"])
    assert forced.exit_code == 0, forced.output
    assert len(server.inbox.envelopes) == 4


def test_unknown_digest_and_bad_date(store, tmp_path):
    cfg = str(config_file(tmp_path, 9))
    r = CliRunner().invoke(digest, ["monthly", "--config", cfg, "--data-dir", str(store.path.parent)])
    assert r.exit_code == 1 and 'no digest "monthly" (digests: weekly-summary)' in r.output
    r = CliRunner().invoke(digest, ["weekly-summary", "--period-end", "26/10/2026", "--config", cfg,
                                    "--data-dir", str(store.path.parent)])
    assert r.exit_code == 2 and "is not a date" in r.output
    r = CliRunner().invoke(digest, ["weekly-summary", "--role", "qa", "--config", cfg, "--data-dir",
                                    str(store.path.parent)])
    assert r.exit_code == 1
    assert r.output == 'error: no role "qa" (roles: business-analyst, quality-assurance)\n'


def test_timer_binding_and_run(store, tmp_path, smtp_server, monkeypatch):
    fa = func.FunctionApp()
    fa.register_functions(digest_handler.bp)
    [f] = fa.get_functions()
    assert f.get_function_name() == "digests"
    assert json.loads(f.get_function_json())["bindings"] == [
        {"direction": "IN", "type": "timerTrigger", "name": "timer", "schedule": "0 */5 * * * *"}]

    server = smtp_server()
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(store.path, data / "alertrouter.db")
    monkeypatch.setenv("ALERTROUTER_CONFIG", str(config_file(tmp_path, server.port)))
    monkeypatch.setenv("ALERTROUTER_DATA_DIR", str(data))
    _runtime.reset()
    try:
        run = digest_handler.digests.build().get_user_function()
        timer = TimerRequest(past_due=True, schedule_status={}, schedule={})
        run(timer)  # the real clock: whatever period last ended; sent once
        run(timer)
        assert len(server.inbox.envelopes) == 2
        from alertrouter.digest import PeriodLedger
        from alertrouter.digest.runner import DigestRunner

        app = _runtime.api().app
        period = DigestRunner.from_app(app).latest("weekly-summary")
        assert PeriodLedger(app.store).get("weekly-summary", period.key)["status"] == "sent"
    finally:
        _runtime.reset()
