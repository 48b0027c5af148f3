"""Every real payload through the HTTP path (the local server, for real) and, for Event Grid
payloads, through the Functions Event Grid trigger, with its expected kind and severity."""

from __future__ import annotations

import json
from datetime import datetime

import azure.functions as func
import pytest
import requests

from alertrouter.inbound import envelope
from handlers.eventgrid import aml_events
from tests.conftest import captured, fixture_files, load_fixture
from tests.inbound.expected import EXPECTED, HANDSHAKE

FILES = [p.name for p in fixture_files()]
def _is_event_delivery(obj) -> bool:
    return isinstance(obj, list) or envelope.is_cloudevent(obj)


EVENT_FILES = [p.name for p in fixture_files() if _is_event_delivery(json.loads(p.read_text()))]


def post_fixture(base_url: str, name: str) -> requests.Response:
    body = next(p for p in fixture_files() if p.name == name).read_bytes()
    obj = json.loads(body)
    if envelope.is_cloudevent(obj):
        return requests.post(base_url + "/api/eventgrid", data=body, timeout=10,
                             headers={"Content-Type": "application/cloudevents+json; charset=utf-8"})
    if isinstance(obj, list):
        ce = all(envelope.is_cloudevent(e) for e in obj)
        headers = {"Content-Type": "application/cloudevents-batch+json; charset=utf-8" if ce
                   else "application/json; charset=utf-8"}
        if not ce:
            headers["aeg-event-type"] = "SubscriptionValidation" if EXPECTED[name] == HANDSHAKE else "Notification"
        return requests.post(base_url + "/api/eventgrid", data=body, headers=headers, timeout=10)
    return requests.post(base_url + "/api/alerts", data=body, headers={"Content-Type": "application/json"}, timeout=10)


@pytest.mark.parametrize("name", FILES)
def test_fixture_http_path(name, server, httpserver):
    resp = post_fixture(server.url, name)
    assert resp.status_code == 200, resp.text
    want = EXPECTED[name]
    if want == HANDSHAKE:
        assert resp.json() == load_fixture(name.replace(".request.", ".response."))
        assert captured(httpserver, 0) == []
        return
    assert resp.json()["accepted"] == len(want)
    got = [(b["data"]["kind"], b["data"]["severity"]) for b in captured(httpserver, len(want))]
    assert sorted(got) == sorted((k, s) for k, s, _ in want)


def _trigger_input(obj: dict):
    if envelope.is_cloudevent(obj):
        version = next(v for k, v in obj.items() if k.lower() == "specversion")
        return func.CloudEvent(id=obj["id"], source=obj["source"], type=obj["type"], specversion=version,
                               data=obj.get("data"), subject=obj.get("subject"),
                               time=datetime.fromisoformat(obj["time"]))
    return func.EventGridEvent(id=obj["id"], data=obj["data"], topic=obj["topic"], subject=obj["subject"],
                               event_type=obj["eventType"], event_time=datetime.fromisoformat(obj["eventTime"]),
                               data_version=obj["dataVersion"])


@pytest.mark.parametrize("name", EVENT_FILES)
def test_fixture_eventgrid_trigger_path(name, functions_env, httpserver):
    user_fn = aml_events.build().get_user_function()
    payload = load_fixture(name)
    for obj in payload if isinstance(payload, list) else [payload]:
        assert user_fn(_trigger_input(obj)) is None
    want = EXPECTED[name]
    expected = [] if want == HANDSHAKE else [(k, s) for k, s, _ in want]
    got = [(b["data"]["kind"], b["data"]["severity"]) for b in captured(httpserver, len(expected))]
    assert sorted(got) == sorted(expected)
