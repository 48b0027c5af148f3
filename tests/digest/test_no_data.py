"""A period is sent only when the router was running for it. A new install does not mail an all-zero
"last week" on its first start (and says why, once); a running router's quiet week is still sent;
`alertrouter digest` says which of the two a preview is. Real stores, the real runner, the real
Functions timer and CLI, aiosmtpd."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from azure.functions.timer import TimerRequest
from click.testing import CliRunner

from alertrouter.cli.digest import digest
from alertrouter.digest import PeriodLedger
from alertrouter.digest.coverage import NO_DATA_GRACE
from alertrouter.inbound import parse_payload
from alertrouter.store.sqlite import SqliteStore
from handlers import _runtime
from handlers import digest as digest_handler

from .conftest import DIGEST_CONFIG, FIRES_AT, NEXT_WEEK, PREV_WEEK, WEEK, Alert, alert_payload
from .test_send import Clock, make_runner

UTC = timezone.utc
KEY = "2026-10-19T00:00:00+02:00"  # the period 19 – 25 Oct 2026


def config_file(tmp_path, port: int):
    path = tmp_path / "routing.yaml"
    path.write_text(DIGEST_CONFIG.replace("PORT", str(port)))
    return path


def take_in(store: SqliteStore, when: datetime, i: int = 0, received: datetime | None = None) -> None:
    """One real alert (common alert schema → adapter → store) fired at `when`, taken in at `received`."""
    a = Alert(f"a-{i}", "cpu-high-aks", "Sev2", when, None)
    store.ingest([(e, []) for e in parse_payload(alert_payload(a, False)).events],
                 (received or when + timedelta(seconds=3)).timestamp())


def no_data_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "alertrouter.digest" and "no-data" in r.getMessage()]


def test_first_start_of_a_new_install_sends_nothing_and_logs_why_once(tmp_path, smtp_server, caplog):
    server = smtp_server()
    store = SqliteStore(tmp_path / "alertrouter.db")
    clock = Clock(FIRES_AT + timedelta(minutes=3))
    runner = make_runner(store, server.port, clock)
    with caplog.at_level(logging.INFO, logger="alertrouter.digest"):
        [outcome] = runner.run_due()
        for _ in range(3):  # the checks that follow, every few minutes
            clock.t += timedelta(minutes=5)
            assert runner.run_due() == []
    assert outcome.status == "no-data"
    assert server.inbox.envelopes == []
    [line] = no_data_lines(caplog)
    assert line.startswith("digest weekly-summary 19 – 25 Oct 2026: no-data — not sent: the store took in no "
                           "events before the period ended (Mon 26 Oct 2026 00:00 Europe/Berlin)")
    assert PeriodLedger(store).get("weekly-summary", KEY)["status"] == "no-data"
    store.close()


def test_right_after_the_period_ends_nothing_is_decided_yet(tmp_path, smtp_server, caplog):
    """An intake in flight at the period's end may still land: "no data" is final only after a grace."""
    from alertrouter.channels.build import build_channels
    from alertrouter.config.load import loads
    from alertrouter.digest import DigestRunner
    from alertrouter.rendering.renderer import Renderer

    server = smtp_server()
    store = SqliteStore(tmp_path / "alertrouter.db")
    clock = Clock(NEXT_WEEK + timedelta(seconds=30))
    loaded = loads(DIGEST_CONFIG.replace("PORT", str(server.port)).replace('"0 0 8 * * Mon"', '"0 0 0 * * Mon"'),
                   "routing.yaml", env={})  # the digest fires at the period's end, midnight
    runner = DigestRunner(loaded, store, build_channels(loaded, tmp_path), Renderer(strict=True), clock=clock)
    with caplog.at_level(logging.INFO, logger="alertrouter.digest"):
        assert runner.run_due() == []
        assert PeriodLedger(store).get("weekly-summary", KEY) is None and no_data_lines(caplog) == []
        take_in(store, NEXT_WEEK - timedelta(seconds=2), received=NEXT_WEEK - timedelta(seconds=1))  # it lands
        clock.t = NEXT_WEEK + timedelta(seconds=NO_DATA_GRACE + 1)
        [outcome] = runner.run_due()
    assert outcome.status == "sent", outcome.summary()
    assert no_data_lines(caplog) == []
    store.close()


def test_a_quiet_week_of_a_running_router_is_sent_with_zeros(tmp_path, smtp_server):
    server = smtp_server()
    store = SqliteStore(tmp_path / "alertrouter.db")
    take_in(store, PREV_WEEK + timedelta(days=2))  # running since the week before; nothing in the period
    [outcome] = make_runner(store, server.port, Clock(FIRES_AT + timedelta(minutes=3))).run_due()
    assert outcome.status == "sent", outcome.summary()
    assert len(server.inbox.envelopes) == 2
    store.close()


def test_events_of_the_period_that_came_in_after_it_do_not_make_it_a_running_period(tmp_path, smtp_server):
    """Azure retries a delivery for up to a day: a new install's first minutes bring events from the
    week before it ran. They do not make that week's digest: the router was not running then."""
    server = smtp_server()
    store = SqliteStore(tmp_path / "alertrouter.db")
    take_in(store, NEXT_WEEK - timedelta(hours=3), received=FIRES_AT - timedelta(minutes=20))
    [outcome] = make_runner(store, server.port, Clock(FIRES_AT + timedelta(minutes=3))).run_due()
    assert outcome.status == "no-data" and server.inbox.envelopes == []
    store.close()


def test_a_store_purged_empty_after_a_long_quiet_spell_still_sends(tmp_path, smtp_server):
    """Retention may purge every event of a router that heard nothing for months: the previous
    period's record (made while the router ran) says it was running."""
    server = smtp_server()
    store = SqliteStore(tmp_path / "alertrouter.db")
    ledger = PeriodLedger(store)
    prev_key = "2026-10-12T00:00:00+02:00"
    ledger.claim("weekly-summary", prev_key, WEEK.isoformat(), "earlier", (WEEK + timedelta(hours=8)).timestamp())
    ledger.finish("weekly-summary", prev_key, "sent", "{}", (WEEK + timedelta(hours=8)).timestamp())
    [outcome] = make_runner(store, server.port, Clock(FIRES_AT + timedelta(minutes=3))).run_due()
    assert outcome.status == "sent", outcome.summary()
    store.close()


def test_the_functions_timer_on_a_fresh_install(tmp_path, smtp_server, monkeypatch, caplog):
    server = smtp_server()
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("ALERTROUTER_CONFIG", str(config_file(tmp_path, server.port)))
    monkeypatch.setenv("ALERTROUTER_DATA_DIR", str(data))
    _runtime.reset()
    try:
        run = digest_handler.digests.build().get_user_function()
        timer = TimerRequest(past_due=False, schedule_status={}, schedule={})
        with caplog.at_level(logging.INFO):
            run(timer)  # the real clock: the period that last ended, before this store existed
            run(timer)
            run(timer)
        assert server.inbox.envelopes == []
        [line] = no_data_lines(caplog)
        assert "not sent: the store took in no events before the period ended" in line
    finally:
        _runtime.reset()


# --- the CLI preview ---

def _preview(tmp_path, data_dir, *extra):
    return CliRunner().invoke(digest, ["weekly-summary", "--period-end", "2026-10-26", "--out", str(tmp_path / "out"),
                                       "--config", str(config_file(tmp_path, 9)), "--data-dir", str(data_dir), *extra])


def test_preview_of_a_period_with_no_data_says_so(tmp_path):
    data = tmp_path / "data"
    result = _preview(tmp_path, data)
    assert result.exit_code == 0, result.output
    assert ("NO DATA for this period: the store took in no events before the period ended (Mon 26 Oct 2026 00:00 "
            "Europe/Berlin): the router was not running then (a new install?). Its figures are all zero because "
            "nothing was recorded, not because nothing happened; the timer does not send it.") in result.output


def test_preview_of_a_quiet_period_says_it_is_quiet(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "alertrouter.db")
    take_in(store, PREV_WEEK + timedelta(days=1))
    store.close()
    result = _preview(tmp_path, data)
    assert result.exit_code == 0, result.output
    assert "no events in this period: no events from Azure in the period, and the router was running" in result.output
    assert "NO DATA" not in result.output


def test_preview_of_a_period_with_events_has_no_note(store, tmp_path):
    result = _preview(tmp_path, store.path.parent)
    assert result.exit_code == 0, result.output
    assert "NO DATA" not in result.output and "no events in this period" not in result.output


def test_send_by_hand_of_a_period_with_no_data_needs_force(tmp_path, smtp_server):
    server = smtp_server()
    data = tmp_path / "data"
    args = ["weekly-summary", "--period-end", "2026-10-26", "--send", "--config",
            str(config_file(tmp_path, server.port)), "--data-dir", str(data)]
    refused = CliRunner().invoke(digest, args)
    assert refused.exit_code == 1
    assert "digest weekly-summary for 19 – 25 Oct 2026 not sent: no data (the store took in no events" in refused.output
    assert "use --force to send it anyway" in refused.output
    again = CliRunner().invoke(digest, args)  # recorded as no-data: the same answer, not "already sent"
    assert again.exit_code == 1 and "not sent: no data" in again.output
    assert server.inbox.envelopes == []
    forced = CliRunner().invoke(digest, args + ["--force"])
    assert forced.exit_code == 0, forced.output
    assert len(server.inbox.envelopes) == 2
