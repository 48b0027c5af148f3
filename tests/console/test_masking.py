"""Masking keeps links: previews (`alertrouter render`, the console's "try a payload") and an event's
trail show an Azure ML event's studio link whole, while the configured secrets in the same output
(a PagerDuty routing key, a webhook URL someone put in a run tag) are masked as whole values; a
one-letter placeholder secret does not mask the letter wherever it appears."""

from __future__ import annotations

import html
import json

import pytest
import requests

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.delivery.preview import MASK, previews
from alertrouter.inbound import decode, parse_payload
from alertrouter.store.base import EventFilter
from tests.conftest import RunningServer, load_fixture
from tests.console.conftest import csrf_of

PD_KEY = "R0utingKey0123456789abcdefABCDEF"
HOOK_URL_PATH = "/hook?api-version=2016-06-01&sig=Wh00kSig987"
CONFIG = """
version: 1
channels:
  pd:
    type: pagerduty
    routing_key: ${PD_KEY}
    url: ${PD_URL}
  hook:
    type: webhook
    url: ${HOOK_URL}
    headers: {X-Api-Key: "${HOOK_KEY}"}
roles:
  data-scientist:
    channels: [pd, hook]
routes:
  - name: runs
    match: {source: aml}
    roles: [data-scientist]
"""
TOPIC = ("/subscriptions/0b1c2d3e-aaaa-bbbb-cccc-1234567890ab/resourceGroups/rg-ml/providers/"
         "Microsoft.MachineLearningServices/workspaces/ws-churn")


@pytest.fixture
def env(tmp_path, monkeypatch, receiver):
    hook_url = receiver.url_for(HOOK_URL_PATH.split("?")[0]) + "?" + HOOK_URL_PATH.split("?")[1]
    monkeypatch.setenv("PD_KEY", PD_KEY)
    monkeypatch.setenv("PD_URL", receiver.url_for("/pd"))
    monkeypatch.setenv("HOOK_URL", hook_url)
    monkeypatch.setenv("HOOK_KEY", "s")  # a placeholder left in a .env: one letter
    receiver.expect_request("/pd").respond_with_data("{}", status=202)
    receiver.expect_request("/hook").respond_with_data("", status=200)
    app = App(loads(CONFIG, str(tmp_path / "routing.yaml")), tmp_path / "data")
    return app, hook_url


def run_failed(hook_url: str) -> list:
    """The sample failed run, in a real workspace, with the webhook's URL pasted into a run tag."""
    [doc] = load_fixture("aml-runstatuschanged-failed.eventgrid.json")
    doc["topic"] = TOPIC
    doc["id"] = "f3c1a6d0-7a51-4c0e-9d37-5c9d8f0e4a21"
    doc["data"]["runTags"] = {"notify": hook_url, "owner": "ana"}
    return [doc]


def studio_link(app: App, payload: list) -> str:
    [event] = parse_payload(decode(json.dumps(payload).encode())).events
    [link] = [url for url in event.links.values() if url.startswith("https://ml.azure.com/")]
    assert "?wsid=/subscriptions/" in link
    return link


def test_a_preview_keeps_the_studio_link_and_masks_the_configured_secrets(env):
    app, hook_url = env
    payload = run_failed(hook_url)
    link = studio_link(app, payload)
    events = parse_payload(decode(json.dumps(payload).encode())).events
    [pd] = previews(app.loaded, events, "pd", None)
    assert pd.body["routing_key"] == MASK
    assert pd.body["payload"]["custom_details"]["tag.notify"] == MASK  # another channel's secret, masked too
    assert [x["href"] for x in pd.body["links"]] == [link]
    [hook] = previews(app.loaded, events, "hook", None)
    shown = hook.json_text
    assert link in shown and PD_KEY not in shown and hook_url not in shown and "Wh00kSig987" not in shown
    assert f'"tag.notify": "{MASK}"' in shown  # the pasted webhook URL, masked whole
    assert '"tag.owner": "ana"' in shown and "automl-local-regression" in shown  # the secret "s" eats no letter
    assert shown.count(MASK) == 1


def test_the_trail_and_the_tried_payload_keep_links_whole(env):
    app, hook_url = env
    payload = run_failed(hook_url)
    link = studio_link(app, payload)
    with RunningServer(app) as server:
        r = requests.post(server.url + "/api/eventgrid", data=json.dumps(payload), timeout=10,
                          headers={"Content-Type": "application/json", "aeg-event-type": "Notification"})
        assert r.status_code == 200, r.text
        [(event, _)] = app.store.list_events(EventFilter()).events
        s = requests.Session()
        trail = s.get(server.url + "/event", params={"id": event.id}, timeout=10).text
        routing = s.get(server.url + "/routing", timeout=10).text
        tried = s.post(server.url + "/routing/try", data={"csrf": csrf_of(routing), "payload": json.dumps(payload)},
                       timeout=10).text
    tried = tried.split("</textarea>")[1]  # past the form, which holds the payload as pasted
    for page in (trail, tried):
        text = html.unescape(page)
        assert link in text                                   # the studio link, whole
        assert "ml.azure.com/runs/" in text and f"?{MASK}" not in text
        assert PD_KEY not in text and hook_url not in text and "Wh00kSig987" not in text
        assert "automl-local-regression" in text and "AutoML_ad912b2d" in text  # "s" masks no letter
        assert MASK in text
