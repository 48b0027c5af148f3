"""The log channel (where every notice goes while no channel is configured: the README tour) shows
which instance fired, and a restricted role's `show:` tags, like the card and the email."""

from __future__ import annotations

import json

from alertrouter.app import App
from alertrouter.build import dispatcher_for
from alertrouter.config.load import loads
from alertrouter.inbound import parse_payload
from tests.conftest import FIXTURES

CONFIG = """
roles:
  se: {channels: [log]}
  qa: {channels: [log], visibility: restricted, show: [accuracy]}
routes:
  - {name: all, match: {}, roles: [se, qa]}
"""


def logged(tmp_path, fixture: str) -> dict[str, str]:
    app = App(loads(CONFIG, str(tmp_path / "routing.yaml"), env={}), tmp_path)
    app.ingest(parse_payload(json.loads((FIXTURES / fixture).read_text())).events)
    dispatcher_for(app).run_once()
    lines = [json.loads(line) for line in (tmp_path / "notifications.jsonl").read_text().splitlines()]
    return {line["role"]: line["text"] for line in lines}


def test_a_metric_alert_in_the_log_names_its_dimensions_and_custom_properties(tmp_path):
    text = logged(tmp_path, "monitor/monitor-metric-static-fired.test-action.json")
    assert "dimensions: ApiName=GetBlob\n" in text["se"]
    assert "custom properties: customKey1=value1, customKey2=value2\n" in text["se"]
    assert "dimensions" not in text["qa"] and "custom" not in text["qa"]  # restricted: no labels


def test_a_restricted_role_sees_its_show_tags_in_the_log(tmp_path):
    fixture = next(p for p in sorted((FIXTURES / "aml").glob("*completed*.json")))
    event = json.loads(fixture.read_text())
    (event[0] if isinstance(event, list) else event)["data"].setdefault("runTags", {})["accuracy"] = "0.91"
    app = App(loads(CONFIG, str(tmp_path / "routing.yaml"), env={}), tmp_path)
    app.ingest(parse_payload(event).events)
    dispatcher_for(app).run_once()
    lines = [json.loads(line) for line in (tmp_path / "notifications.jsonl").read_text().splitlines()]
    qa = next(line["text"] for line in lines if line["role"] == "qa")
    assert "tags and properties: accuracy=0.91\n" in qa
