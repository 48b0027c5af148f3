"""`alertrouter outbox list | show | retry | purge` over a real store."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from alertrouter.cli import main
from alertrouter.store.base import Attempt
from tests.store.test_contract import event, notes


def run(*args):
    return CliRunner().invoke(main, list(args), env={"ALERTROUTER_STORE": "sqlite"})


def seeded(tmp_path):
    from alertrouter.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "alertrouter.db")
    now = time.time()
    store.ingest([(event("e1"), notes("e1", 2))], now - 3600)
    a, b = store.claim(now, 10, 30, "cli-test")
    store.finish(a, "cli-test", Attempt(a.id, 1, now, "delivered", "webhook hook: HTTP 202"), "sent", now, now)
    store.finish(b, "cli-test", Attempt(b.id, 1, now, "failed", "webhook hook: HTTP 400"), "dead", now, now)
    return store, a.id, b.id


def test_list_and_filter(tmp_path):
    _, sent, dead = seeded(tmp_path)
    r = run("outbox", "list", "--data-dir", str(tmp_path), "--json")
    assert r.exit_code == 0
    assert {(n["id"], n["status"]) for n in json.loads(r.stdout)} == {(sent, "sent"), (dead, "dead")}
    r = run("outbox", "list", "--status", "dead", "--data-dir", str(tmp_path))
    assert dead in r.stdout and sent not in r.stdout and "webhook hook: HTTP 400" in r.stdout


def test_show_prints_history(tmp_path):
    _, _, dead = seeded(tmp_path)
    r = run("outbox", "show", dead, "--data-dir", str(tmp_path))
    assert r.exit_code == 0
    assert f"{dead}: dead, 1 attempt(s)" in r.stdout
    assert "alert.fired [error] title e1" in r.stdout
    assert "#1  failed    webhook hook: HTTP 400" in r.stdout
    missing = run("outbox", "show", "nope", "--data-dir", str(tmp_path))
    assert missing.exit_code == 1 and "no notification nope" in missing.stderr


def test_retry_all_dead_and_by_id(tmp_path):
    store, sent, dead = seeded(tmp_path)
    r = run("outbox", "retry", "--all-dead", "--data-dir", str(tmp_path))
    assert r.exit_code == 0 and r.stdout.startswith("re-driven: 1")
    assert store.get(dead).status == "pending"
    r = run("outbox", "retry", sent, "nope", "--data-dir", str(tmp_path))
    assert r.exit_code == 1 and "not re-driven (unknown, or already pending): nope" in r.stderr
    assert store.get(sent).status == "pending"
    assert run("outbox", "retry", "--data-dir", str(tmp_path)).exit_code == 2


def test_purge(tmp_path):
    store, sent, dead = seeded(tmp_path)
    assert run("outbox", "purge", "--older-than", "1d", "--data-dir", str(tmp_path)).stdout == \
        "purged 0 notification(s) older than 1d\n"
    time.sleep(0.01)
    assert run("outbox", "purge", "--older-than", "0s", "--data-dir", str(tmp_path)).stdout == \
        "purged 2 notification(s) older than 0s\n"
    bad = run("outbox", "purge", "--older-than", "3 fortnights", "--data-dir", str(tmp_path))
    assert bad.exit_code == 2 and "not a duration like 30d" in bad.stderr


def test_silence_add_list_expire(tmp_path):
    d = str(tmp_path)
    r = run("silence", "add", "--match", "resource=vm-7", "--match", "alert_rule=~cpu.*", "--duration", "2h",
            "--author", "ana", "--comment", "reboot", "--data-dir", d)
    assert r.exit_code == 0, r.output
    sid = r.stdout.split(":")[0]
    assert '{"resource": "vm-7", "alert_rule": {"regex": "cpu.*"}}' in r.stdout
    listed = run("silence", "list", "--data-dir", d)
    assert sid in listed.stdout and "active" in listed.stdout and "by ana: reboot" in listed.stdout
    assert run("silence", "expire", sid, "--data-dir", d).stdout == f"{sid} expired (notifications it held stay held)\n"
    assert run("silence", "list", "--data-dir", d).stdout == "no silences\n"
    assert "expired" in run("silence", "list", "--all", "--data-dir", d).stdout
    bad = run("silence", "add", "--match", "nonsense", "--author", "a", "--comment", "c", "--data-dir", d)
    assert bad.exit_code == 2 and "is not a matcher like severity=critical" in bad.stderr
