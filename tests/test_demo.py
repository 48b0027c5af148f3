"""`alertrouter demo` against the real local server with the shipped routing.yaml: every event is taken
in (none a duplicate, twice as many after a second run), the roles hear what the README tour says (the
log channel in the data dir, the software engineers' ops webhook on a loopback receiver), and grouping,
inhibition, the duplicate end notice and escalation show in the outbox; with no router, a clear error."""

from __future__ import annotations

import base64
import json
import re
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests
from click.testing import CliRunner

from alertrouter.app import App
from alertrouter.cli.demo_scenario import STORM_RULE, STORM_SIZE
from alertrouter.cli.main import main
from alertrouter.config.load import load
from alertrouter.http.auth import Authenticator
from alertrouter.settings import Settings
from tests.conftest import ROOT, RunningServer, captured, free_port, wait_until

# Events per demo: 4 run starts (one a Queued flip), the Sev0 page, the inhibited Sev3, the storm, the
# failed run, the Sev1 page, the budget alert, 3 run ends (Azure's two for one run), the Sev0's resolve.
EVENTS = 4 + 1 + 1 + STORM_SIZE + 1 + 1 + 1 + 3 + 1
SECRET = "whsec_" + base64.b64encode(b"demo-test-signing-secret-32bytes").decode()


class ShiftedClock:
    """Real time plus an offset the test moves (the app and the dispatcher share it)."""

    def __init__(self):
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def shipped(tmp_path, receiver):
    """The shipped routing.yaml with only the ops webhook set (to the loopback receiver): every other
    channel falls back to the log channel, as after `make run` on a fresh clone."""
    receiver.expect_request("/ops").respond_with_data("", status=202)
    loaded = load(ROOT / "routing.yaml", env={"OPS_WEBHOOK_URL": receiver.url_for("/ops"),
                                              "OPS_WEBHOOK_SECRET": SECRET})
    clock = ShiftedClock()
    app = App(loaded, tmp_path / "data", clock=clock, ack_secret=b"demo-ack-secret-0123456789abcdef")
    with RunningServer(app, clock=clock) as server:
        yield server, app, clock


def demo(*args, env=None):
    return CliRunner().invoke(main, ["demo", *args], env={"ALERTROUTER_API_KEY": None, **(env or {})})


def stored_events(app) -> list:
    now = datetime.now(timezone.utc)
    return app.store.events_between(now - timedelta(days=1), now + timedelta(days=1))


def log_lines(app) -> list[dict]:
    path = app.data_dir / "notifications.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def held(app, prefix: str) -> list:
    return [n for n in app.store.list("held", 10_000) if n.last_detail.startswith(prefix)]


def test_demo_fills_the_router_as_the_tour_says(shipped, receiver):
    server, app, clock = shipped
    r = demo("--url", server.url)
    assert r.exit_code == 0, r.output + (r.stderr or "")
    assert f"sent {EVENTS} events, 0 duplicates" in r.stdout
    events = stored_events(app)
    assert len(events) == EVENTS and len({e.id for e in events}) == EVENTS
    kinds = Counter(e.kind for e in events)
    assert kinds["run.started"] == 3 and kinds["run.failed"] == 1 and kinds["run.completed"] == 3
    assert kinds["alert.resolved"] == 1 and kinds["alert.fired"] == STORM_SIZE + 4

    # who heard what, through the log channel (no secrets set) and the ops webhook on loopback
    def not_qa():  # nor the storm's group notice, which comes after group_wait (below)
        return [x for x in log_lines(app) if x["role"] != "quality-assurance" and x["route"] != "platform-alerts"]

    wait_until(lambda: len(not_qa()) >= 10, 10, "the log channel")
    time.sleep(0.2)  # and nothing more
    sent = not_qa()
    heard = Counter((x["role"], x["kind"]) for x in sent)
    assert heard == {("on-call", "alert.fired"): 2, ("on-call", "alert.resolved"): 1,
                     ("software-engineer", "alert.fired"): 2, ("software-engineer", "alert.resolved"): 1,
                     ("data-scientist", "run.failed"): 1, ("data-scientist", "run.completed"): 2,
                     ("business-analyst", "alert.fired"): 1}
    ds_failed = next(x for x in sent if x["kind"] == "run.failed")
    assert "ml.azure.com" in ds_failed["text"]
    pages = [x for x in sent if x["role"] == "on-call" and x["kind"] == "alert.fired"]
    assert all("/api/ack" in x["text"] for x in pages)  # pages carry the Acknowledge link
    ops = [b["data"] for b in captured(receiver, 3) if b["data"]["route"] == "production-pages"]
    assert sorted(b["kind"] for b in ops) == ["alert.fired", "alert.fired", "alert.resolved"]
    qa = [n for n in app.store.list(None, 10_000) if n.role == "quality-assurance" and n.status != "held"]
    assert len(qa) == 6  # 3 starts, 1 failure, 2 ends: sent, or waiting for the morning
    assert all(n.status == "sent" or n.last_detail.startswith("deferred until") for n in qa)
    qa_text = [x["text"] for x in log_lines(app) if x["role"] == "quality-assurance"]
    assert not any("ml.azure.com" in t for t in qa_text)

    # the stages, in the outbox: grouping, inhibition, Azure's second end notice
    grouped = held(app, "grouped into platform-alerts/software-engineer/")
    assert len(grouped) == 2 * STORM_SIZE and all(f"alert_rule={STORM_RULE}" in n.last_detail for n in grouped)
    inhibited = held(app, "inhibited by Fired: churn-scoring-5xx on churn-scoring")
    assert {n.role for n in inhibited} == {"software-engineer"} and len(inhibited) == 2
    assert {n.role for n in held(app, "duplicate end notice")} == {"data-scientist", "quality-assurance"}

    # the trail link it prints opens the Sev0 page's trail in the console
    trail = re.search(r"^\s+trail\s+(http\S+)", r.stdout, re.M)[1]
    page = requests.get(trail, timeout=10)
    assert page.status_code == 200 and "churn-scoring-5xx" in page.text and "production-pages" in page.text

    # after group_wait: one notice for the whole storm
    clock.offset = 31
    app.tick()
    storm = [b["data"] for b in captured(receiver, 4) if b["data"]["title"].startswith(f"{STORM_SIZE} firing")]
    assert len(storm) == 1 and storm[0]["title"] == f"{STORM_SIZE} firing: alert_rule={STORM_RULE}"
    assert "and 25 more" in storm[0]["text"]

    # after 15 minutes: the Sev1 page escalates to software engineers; the resolved Sev0 does not
    clock.offset = 16 * 60
    app.tick()
    escalated = [b["data"]["title"] for b in captured(receiver, 5) if "Not acknowledged" in b["data"]["title"]]
    assert len(escalated) == 1 and "gpu-cluster-unusable-nodes" in escalated[0]


def test_a_second_demo_is_new_activity_not_duplicates(shipped):
    server, app, _ = shipped
    first, second = demo("--url", server.url), demo("--url", server.url)
    assert first.exit_code == 0 and second.exit_code == 0, second.output
    assert f"sent {EVENTS} events, 0 duplicates" in second.stdout
    assert len({e.id for e in stored_events(app)}) == 2 * EVENTS
    assert len(held(app, "inhibited by")) == 4  # each run's Sev0 holds that run's latency alert


def test_no_router_says_what_and_how_to_start_one():
    r = demo("--url", f"http://127.0.0.1:{free_port()}")
    assert r.exit_code == 1
    assert "error: no router answers at http://127.0.0.1:" in r.stderr
    assert "`make run`" in r.stderr and "in another terminal" in r.stderr


def test_the_key_is_sent_as_send_sends_it_and_never_printed(capture_app, httpserver):
    key = "demo-key-5c1e0b7a9d3f4e28"
    with RunningServer(capture_app, auth=Authenticator.from_settings(Settings(api_key=key))) as server:
        refused = demo("--url", server.url)
        assert refused.exit_code == 1
        assert "no key was given: pass --key KEY or set ALERTROUTER_API_KEY" in refused.stderr
        ok = demo("--url", server.url, env={"ALERTROUTER_API_KEY": key})
    assert ok.exit_code == 0, ok.output
    assert key not in ok.output and key not in refused.output
    assert f"sent {EVENTS} events, 0 duplicates" in ok.stdout


def test_a_url_naming_one_endpoint_says_to_give_the_base_url():
    r = demo("--url", "http://127.0.0.1:7071/api/alerts")
    assert r.exit_code == 2
    assert "the demo posts to both /api/eventgrid and /api/alerts; give the base URL (without /api/...)" in r.stderr
