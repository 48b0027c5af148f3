"""`alertrouter outbox list | show | retry | purge` over a real store."""

from __future__ import annotations

import json
import time

from click.testing import CliRunner

from alertrouter.cli.main import main
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
    assert run("silence", "list", "--data-dir", d).stdout == "no active or pending silences (1 expired: --all shows them)\n"
    expired = run("silence", "list", "--all", "--data-dir", d).stdout
    assert expired.startswith(f"{sid}  expired  ") and "  expired 20" in expired and "until" not in expired
    unknown = run("silence", "expire", "s_nope", "--data-dir", d)
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: no silence s_nope; the ids are in `alertrouter silence list --all`\n"
    bad = run("silence", "add", "--match", "nonsense", "--author", "a", "--comment", "c", "--data-dir", d)
    assert bad.exit_code == 2 and "is not a matcher like severity=critical" in bad.stderr


def prefixed(tmp_path):
    """Seven notifications with ids shaped as the router makes them (n_ + 32 hex digits)."""
    from alertrouter.store.base import Notification
    from alertrouter.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "alertrouter.db")
    ids = ["n_01ce" + "a" * 28, "n_01cf" + "b" * 28] + [f"n_77{i:02d}" + "c" * 28 for i in range(6)]
    store.ingest([(event("e9"), [Notification(id=i, event_id="e9", route="r", role=f"role{k}", channel="ch")
                                 for k, i in enumerate(ids)])], time.time())
    return ids


def test_show_accepts_a_unique_prefix(tmp_path):
    ids = prefixed(tmp_path)
    for given in ("n_01ce", "n_01ce…", "N_01CEAAA", ids[0]):
        r = run("outbox", "show", given, "--data-dir", str(tmp_path))
        assert r.exit_code == 0, (given, r.output)
        assert r.stdout.startswith(f"{ids[0]}: pending, 0 attempt(s)\n")
        assert "alert.fired [error] title e9" in r.stdout


def test_show_an_ambiguous_prefix_lists_a_few_candidates(tmp_path):
    ids = prefixed(tmp_path)
    r = run("outbox", "show", "n_01", "--data-dir", str(tmp_path))
    assert r.exit_code == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert lines[0] == "error: n_01 is the start of 2 notification ids; give more of the id:"
    assert [line.split()[0] for line in lines[1:]] == sorted(ids[:2])
    r = run("outbox", "show", "n_", "--data-dir", str(tmp_path))
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0] == "error: n_ is the start of 8 notification ids; give more of the id:"
    assert len(lines) == 1 + 5 + 1 and lines[-1] == "  … and 3 more (newest shown)"
    assert all(line.split()[0] in ids for line in lines[1:6])


def test_show_no_match_says_so(tmp_path):
    prefixed(tmp_path)
    r = run("outbox", "show", "n_ffff", "--data-dir", str(tmp_path))
    assert r.exit_code == 1
    assert r.stderr == "error: no notification n_ffff (nor one whose id starts with it); see `alertrouter outbox list`\n"
