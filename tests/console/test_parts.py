"""The console's small parts, as tables: masking, the form syntaxes, the stage a notification was
decided by; and the SQLite index filled for a store file written before it existed."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest

from alertrouter.console.forms import FormError, matchers_text, parse_labels, parse_matchers, parse_time
from alertrouter.console.mask import MASK, mask, mask_text, secret_key
from alertrouter.console.trail import stage_of
from alertrouter.model import Event
from alertrouter.store.base import EventFilter, Notification
from alertrouter.store.sqlite import SqliteStore

R = MASK


@pytest.mark.parametrize("name, secret", [
    ("routing_key", True), ("apiKey", True), ("x-functions-key", True), ("webhookUrl", True), ("password", True),
    ("client_secret", True), ("SharedAccessSignature", True), ("errorCode", False), ("authorName", False), ("sig", True), ("Authorization", True),
    ("signalType", False), ("alertRule", False), ("monitoringService", False), ("description", False),
    ("connectionString", True), ("token", True), ("keyword", False),
])
def test_secret_key_names(name, secret):
    assert secret_key(name) is secret


STUDIO = ("https://ml.azure.com/runs/AutoML_ad912b2d_5?wsid=/subscriptions/0b1c/resourcegroups/rg-ml/providers/"
          "Microsoft.MachineLearningServices/workspaces/ws-churn&tid=72f988bf")
PORTAL = "https://portal.azure.com/#@contoso.onmicrosoft.com/resource/subscriptions/0b1c/resourceGroups/rg-ml/overview"


@pytest.mark.parametrize("text, shown", [
    ("https://prod.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=XYZ",
     f"https://prod.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig={R}"),
    ("see https://user:pw@example.org/a#frag now", f"see https://{R}@example.org/a#frag now"),
    ("Authorization: Bearer eyJhbGciOi.abc.def", f"Authorization: Bearer {R}"),
    ("plain text, no secret", "plain text, no secret"),
    ("https://portal.azure.com/#resource/x", "https://portal.azure.com/#resource/x"),
    (f"Run in Azure ML studio: {STUDIO}", f"Run in Azure ML studio: {STUDIO}"),  # links stay whole
    (PORTAL, PORTAL),
    ("https://fn.azurewebsites.net/api/hook?code=abc123==&name=x", f"https://fn.azurewebsites.net/api/hook?code={R}&name=x"),
    ("https://app.example/cb#access_token=eyJ0&state=9", f"https://app.example/cb#access_token={R}&state=9"),
])
def test_mask_text(text, shown):
    assert mask_text(text) == shown


@pytest.mark.parametrize("text, secrets, shown", [
    # a configured secret is masked as a whole value wherever it appears, as written or escaped…
    ("posted to https://hooks.example/x?sig=Q1w2E3r4 (said the receiver)", ["https://hooks.example/x?sig=Q1w2E3r4"],
     f"posted to {R} (said the receiver)"),
    ("key Q1w2E3r4, again: key=Q1w2E3r4.", ["Q1w2E3r4"], f"key {R}, again: key={R}."),
    ("<a href=\"https://h.example/x?a=1&amp;b=Q1w2E3r4\">", ["https://h.example/x?a=1&b=Q1w2E3r4"], f"<a href=\"{R}\">"),
    # …but never inside another word: a one-letter placeholder does not eat every "s"
    ("runs succeeded: s3 is a bucket, s is the secret", ["s"], f"runs succeeded: s3 is a bucket, {R} is the secret"),
    ("this is fine", ["s"], "this is fine"),
    ("abcQ1w2E3r4 Q1w2E3r4xyz", ["Q1w2E3r4"], "abcQ1w2E3r4 Q1w2E3r4xyz"),
])
def test_configured_secrets_are_masked_as_whole_values(text, secrets, shown):
    assert mask_text(text, secrets) == shown


def test_mask_walks_json():
    doc = {"data": {"essentials": {"alertRule": "cpu", "signalType": "Metric"},
                    "customProperties": {"apiKey": "k1", "nested": {"password": "p"}, "empty_token": ""},
                    "links": ["https://x.example/a?code=123"]}}
    assert mask(doc) == {"data": {"essentials": {"alertRule": "cpu", "signalType": "Metric"},
                                  "customProperties": {"apiKey": R, "nested": {"password": R}, "empty_token": ""},
                                  "links": [f"https://x.example/a?code={R}"]}}


@pytest.mark.parametrize("text, spec", [
    ("resource=vm-7", {"resource": "vm-7"}),
    ("resource=vm-7, severity!=verbose", {"resource": "vm-7", "severity": {"not": "verbose"}}),
    ("alert_rule=~cpu-.*\nexperiment!~test-.*", {"alert_rule": {"regex": "cpu-.*"}, "experiment": {"not_regex": "test-.*"}}),
    ('custom.team="ds"', {"custom.team": "ds"}),
])
def test_matchers_round_trip(text, spec):
    assert parse_matchers(text) == spec
    assert parse_matchers(matchers_text(spec)) == spec


@pytest.mark.parametrize("text", ["resource", "=x", "a b=c"])
def test_bad_matchers_name_the_item(text):
    with pytest.raises(FormError, match="is not a matcher"):
        parse_matchers(text)


def test_labels_and_times():
    assert parse_labels("experiment=churn, workspace = ws1") == (("experiment", "churn"), ("workspace", "ws1"))
    with pytest.raises(FormError):
        parse_labels("experiment")
    now = 1_800_000_000.0
    assert parse_time("", now) is None
    assert parse_time("2h", now) == now - 7200
    assert parse_time("2026-11-20T10:00", now) == datetime(2026, 11, 20, 10, tzinfo=timezone.utc).timestamp()
    assert parse_time("2026-11-20T10:00+01:00", now) == datetime(2026, 11, 20, 9, tzinfo=timezone.utc).timestamp()
    with pytest.raises(FormError):
        parse_time("yesterday", now)


def n(status: str, detail: str, attempts: int = 0) -> Notification:
    return Notification(id="n", event_id="e", route="r", role="x", channel="c", status=status, attempts=attempts,
                        last_detail=detail)


@pytest.mark.parametrize("note, stage", [
    (n("held", "silenced by s_0123456789ab (reboot, by ana)"), "silence"),
    (n("held", "inhibited by Fired: cluster down (rule cluster)"), "inhibition"),
    (n("held", "grouped into g_abc"), "grouping"),
    (n("held", "duplicate end notice: this run's end was already reported (run.completed)"), "lifecycle"),
    (n("held", "folded into the summary for se-teams (over its budget this minute)"), "budget"),
    (n("pending", "deferred until 2026-11-20T07:00:00+00:00 (qa-hours)"), "window"),
    (n("sent", "HTTP 202", 1), "delivery"),
    (n("dead", "gave up after 12 attempts: HTTP 503", 12), "delivery"),
])
def test_stage_of_a_notification(note, stage):
    assert stage_of(note)[0] == stage


@pytest.mark.parametrize("detail, stage, shown", [
    ("waiting: channel se-teams is at its rate limit (4/1s)", "rate_limit",
     "waiting to be sent: channel se-teams is at its rate limit (4/1s)"),
    ("waiting: channel se-teams is down", "delivery", "waiting to be sent: channel se-teams is down"),
])
def test_a_notification_waiting_for_its_channel(detail, stage, shown):
    assert stage_of(n("pending", detail)) == (stage, shown)


def test_an_existing_store_file_gets_its_event_index(tmp_path):
    path = tmp_path / "old.db"
    store = SqliteStore(path)
    event = Event(id="e1", source="aml", kind="run.failed", severity="error", title="t", fingerprint="f",
                  time=datetime(2026, 11, 20, tzinfo=timezone.utc), labels={"experiment": "churn"})
    store.ingest([(event, [Notification(id="n1", event_id="e1", route="r", role="ds", channel="c")])], 1.0)
    store.close()
    with sqlite3.connect(path) as db:  # as a file written before the index existed
        db.execute("DELETE FROM event_index")
        db.execute("PRAGMA user_version = 0")
    reopened = SqliteStore(path)
    page = reopened.list_events(EventFilter(role="ds", labels=(("experiment", "churn"),)))
    assert [e.id for e, _ in page.events] == ["e1"]
    reopened.close()
