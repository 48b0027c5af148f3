"""Digests through the real email channel to a real SMTP server (aiosmtpd), exactly once per period,
from concurrent runners, with catch-up after a missed Monday. Clocks are injected; nothing sleeps."""

from __future__ import annotations

import email
import email.policy
import threading
from datetime import datetime, timedelta, timezone

import pytest

from alertrouter.channels.build import build_channels
from alertrouter.digest import DigestRunner, PeriodLedger
from alertrouter.rendering.renderer import Renderer
from alertrouter.store.sqlite import SqliteStore

from .conftest import FIRES_AT, TZ, WEEK, digest_config
from .expected import expected
from .html_tools import parse

UTC = timezone.utc


class Clock:
    def __init__(self, t: datetime):
        self.t = t

    def __call__(self) -> float:
        return self.t.timestamp()


def make_runner(store, port: int, clock: Clock, sleeps: list | None = None, extra: str = "") -> DigestRunner:
    loaded = digest_config(port, extra)
    return DigestRunner(loaded, store, build_channels(loaded, store.path.parent), Renderer(strict=True),
                        clock=clock, sleep=(sleeps.append if sleeps is not None else _no_sleep))


def _no_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s")


def mails(server) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(e.original_content, policy=email.policy.default)
            for e in server.inbox.envelopes]


def by_rcpt(server) -> dict[str, int]:
    out: dict[str, int] = {}
    for env in server.inbox.envelopes:
        for r in env.rcpt_tos:
            out[r] = out.get(r, 0) + 1
    return out


def test_the_monday_digest_arrives_with_both_parts(store, smtp_server, world):
    server = smtp_server()
    clock = Clock(FIRES_AT + timedelta(minutes=3))
    runner = make_runner(store, server.port, clock)
    [outcome] = runner.run_due()
    assert outcome.status == "sent", outcome.summary()
    assert (outcome.period.start, outcome.period.end) == (WEEK, WEEK + timedelta(days=7))
    # the analysts' email channel and QA's (its Teams channel gets no digest)
    assert [(d.role, d.channel) for d in outcome.deliveries] == [("business-analyst", "analyst-mail"),
                                                                 ("quality-assurance", "qa-mail")]
    assert by_rcpt(server) == {"analysts@contoso.com": 1, "qa@contoso.com": 1}

    analyst, qa = sorted(mails(server), key=lambda m: m["To"])
    want = expected(world, WEEK, WEEK + timedelta(days=7))
    for m in (analyst, qa):
        assert m.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in m.iter_parts()] == ["text/plain", "text/html"]
        assert m["Subject"].startswith("Weekly summary: 19 – 25 Oct 2026 · ")
        assert m["From"] == "alertrouter@contoso.com"
        assert m["Message-ID"].startswith("<d_")
    text, html = (p.get_content() for p in analyst.iter_parts())
    assert f"{want['ended']} ended: {want['succeeded']} succeeded" in text
    doc = parse(html)
    assert [h.attrs["id"] for h in doc.all("h2")] == ["summary", "runs", "experiments", "models", "drift", "alerts",
                                                       "resolution", "metrics", "cost"]
    assert doc.all("a") and not doc.all("img")
    qa_text, qa_html = (p.get_content() for p in qa.iter_parts())
    assert "https://" not in qa_html and "https://" not in qa_text
    assert "metrics" not in [h.attrs["id"] for h in parse(qa_html).all("h2")]

    record = runner.ledger.get("weekly-summary", outcome.period.key)
    assert record["status"] == "sent" and record["period_end"] == outcome.period.end_local.isoformat()


def test_a_retried_timer_or_a_restart_sends_nothing_more(store, smtp_server):
    server = smtp_server()
    clock = Clock(FIRES_AT + timedelta(minutes=1))
    assert [o.status for o in make_runner(store, server.port, clock).run_due()] == ["sent"]
    for minutes in (1, 6, 60 * 24, 60 * 24 * 6):  # the same tick again, later ticks, a new process
        clock.t = FIRES_AT + timedelta(minutes=minutes)
        restarted = make_runner(SqliteStore(store.path), server.port, clock)
        assert restarted.due() == [] and restarted.run_due() == []
    assert len(server.inbox.envelopes) == 2


def test_concurrent_runners_send_each_period_once(store, smtp_server):
    """Four runners (each its own store connection, as separate instances would be) tick at the
    same instant on one SQLite file: one claims the period, the others find it claimed (the
    store's state documents)."""
    server = smtp_server()
    clock = Clock(FIRES_AT + timedelta(minutes=5))
    stores = [SqliteStore(store.path) for _ in range(4)]
    runners = [make_runner(s, server.port, clock) for s in stores]
    for r, s in zip(runners, stores):
        r.ledger = PeriodLedger(s)
    assert all(r.due() for r in runners)  # every runner sees the digest as due before the race
    barrier = threading.Barrier(len(runners))
    results: list = [None] * len(runners)

    def tick(i):
        barrier.wait()
        results[i] = runners[i].run_due()

    threads = [threading.Thread(target=tick, args=(i,)) for i in range(len(runners))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(o.status for r in results for o in r)
    assert statuses.count("sent") == 1
    assert set(statuses) <= {"sent", "skipped"}
    assert by_rcpt(server) == {"analysts@contoso.com": 1, "qa@contoso.com": 1}
    for s in stores:
        s.close()


def test_a_missed_monday_is_caught_up_once(store, smtp_server):
    server = smtp_server()
    clock = Clock(FIRES_AT - timedelta(days=7) + timedelta(minutes=2))  # Mon 19 Oct 08:02: the week before
    runner = make_runner(store, server.port, clock)
    [first] = runner.run_due()
    assert first.period.start == WEEK - timedelta(days=7)

    clock.t = FIRES_AT - timedelta(seconds=1)  # Mon 26 Oct 07:59:59 local: this week's is not due yet
    assert runner.due() == []
    # the router is down on Monday 26; it comes back on Tuesday at 10:00
    clock.t = datetime(2026, 10, 27, 10, 0, tzinfo=TZ)
    [caught_up] = make_runner(SqliteStore(store.path), server.port, clock).run_due()
    assert caught_up.status == "sent" and caught_up.period.start == WEEK
    clock.t += timedelta(minutes=5)
    assert runner.run_due() == []
    clock.t = datetime(2026, 11, 2, 8, 0, tzinfo=TZ)  # the next Monday: the next week
    [following] = runner.run_due()
    assert following.period.start == WEEK + timedelta(days=7)
    assert by_rcpt(server) == {"analysts@contoso.com": 3, "qa@contoso.com": 3}


def test_retryable_failures_are_retried_then_recorded_not_resent(store, smtp_server):
    server = smtp_server()
    server.inbox.data_reply = "451 4.3.0 try again later"
    sleeps: list[float] = []
    clock = Clock(FIRES_AT + timedelta(minutes=1))
    runner = make_runner(store, server.port, clock, sleeps)
    [outcome] = runner.run_due()
    assert outcome.status == "failed"
    assert [d.attempts for d in outcome.deliveries] == [3, 3]
    assert sleeps == [5.0, 20.0, 5.0, 20.0]  # injected: the test does not wait
    record = runner.ledger.get("weekly-summary", outcome.period.key)
    assert record["status"] == "failed" and "451" in record["detail"]
    server.inbox.data_reply = None
    clock.t += timedelta(minutes=5)
    assert runner.run_due() == []  # at most once: a failed period is re-sent by hand (--send --force)
    assert server.inbox.envelopes == []


def test_one_role_failing_does_not_stop_the_other(store, smtp_server):
    server = smtp_server()
    sleeps: list[float] = []
    runner = make_runner(store, server.port, Clock(FIRES_AT + timedelta(minutes=1)), sleeps)
    # QA's mail server refuses connections (port 9 on loopback: nothing listens)
    runner.channels["qa-mail"] = build_channels(digest_config(9), store.path.parent)["qa-mail"]
    [outcome] = runner.run_due()
    assert outcome.status == "partial"
    assert [d.result.status for d in outcome.deliveries] == ["delivered", "retry"]
    assert by_rcpt(server) == {"analysts@contoso.com": 1}
    assert "connection refused" in runner.ledger.get("weekly-summary", outcome.period.key)["detail"]


def test_unset_email_settings_fall_back_to_the_log_channel(store, tmp_path):
    from alertrouter.config.load import loads

    loaded = loads("""
channels:
  team-email:
    type: email
    tenant_id: ${T}
    client_id: ${C}
    client_secret: ${S}
    sender: ${F}
roles:
  ba:
    channels: [team-email]
digests:
  weekly:
    schedule: "0 0 8 * * Mon"
    time_zone: Europe/Berlin
    roles: [ba]
""", "routing.yaml", env={})
    runner = DigestRunner(loaded, store, build_channels(loaded, tmp_path), Renderer(strict=True),
                          clock=Clock(FIRES_AT), sleep=_no_sleep)
    [outcome] = runner.run_due()
    assert outcome.status == "sent"
    [d] = outcome.deliveries
    assert (d.channel, d.fallback_from) == ("log", "team-email")
    assert "TRAINING RUNS" in (tmp_path / "notifications.jsonl").read_text()


@pytest.mark.parametrize("force", [False, True])
def test_send_by_hand(store, smtp_server, force):
    server = smtp_server()
    clock = Clock(FIRES_AT + timedelta(hours=1))
    runner = make_runner(store, server.port, clock)
    period = runner.latest("weekly-summary")
    assert runner.send("weekly-summary", period).status == "sent"
    again = runner.send("weekly-summary", period, force=force)
    assert again.status == ("sent" if force else "skipped")
    assert len(server.inbox.envelopes) == (4 if force else 2)


def test_the_period_record_is_put_if_absent(store):
    ledger = PeriodLedger(store)
    assert ledger.get("w", "2026-10-19T00:00:00+02:00") is None
    assert ledger.claim("w", "2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "a", 1.0)
    assert not ledger.claim("w", "2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "b", 2.0)
    assert ledger.claim("w", "2026-10-26T00:00:00+01:00", "2026-11-02T00:00:00+01:00", "b", 2.0)
    assert ledger.claim("other", "2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00", "b", 2.0)
    ledger.finish("w", "2026-10-19T00:00:00+02:00", "sent", "{}", 3.0)
    rec = PeriodLedger(SqliteStore(store.path)).get("w", "2026-10-19T00:00:00+02:00")
    assert (rec["owner"], rec["status"], rec["claimed_at"], rec["finished_at"]) == ("a", "sent", 1.0, 3.0)


def test_the_local_server_scheduler_checks_on_its_own_thread(store, smtp_server):
    from alertrouter.digest import DigestScheduler

    server = smtp_server()
    runner = make_runner(store, server.port, Clock(FIRES_AT + timedelta(minutes=1)))
    checked = threading.Event()
    run_due = runner.run_due

    def observed():
        outcomes = run_due()
        checked.set()
        return outcomes

    runner.run_due = observed
    scheduler = DigestScheduler(runner, interval=3600)
    scheduler.start()
    assert checked.wait(10)
    scheduler.stop(10)
    assert by_rcpt(server) == {"analysts@contoso.com": 1, "qa@contoso.com": 1}


def test_a_failing_query_records_nothing_so_the_next_check_retries(store, smtp_server, monkeypatch):
    import alertrouter.digest.aggregate as aggregate

    server = smtp_server()
    clock = Clock(FIRES_AT + timedelta(minutes=1))
    runner = make_runner(store, server.port, clock)
    real = aggregate.events_between

    def broken(*a, **kw):
        raise OSError("store unavailable")

    monkeypatch.setattr(aggregate, "events_between", broken)
    assert runner.run_due() == []  # logged, not raised
    assert runner.due()  # still due
    monkeypatch.setattr(aggregate, "events_between", real)
    clock.t += timedelta(minutes=5)
    assert [o.status for o in runner.run_due()] == ["sent"]
