"""The reported payloads that answered 500, on every path that reads a body (the local server on
loopback; the Functions trigger with the library's event object): now 400 with what and where.
500 stays for faults on our side: a store that cannot be reached."""

from __future__ import annotations

import json
import logging
import re

import azure.functions as func
import pytest
import requests

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.http.api import HttpApi, Request
from alertrouter.settings import AzureStorage
from alertrouter.store.azure import AzureStore
from tests.conftest import CAPTURE_CONFIG, captured, free_port, load_fixture
from tests.store.azurite import ACCOUNT, KEY

ALERT = load_fixture("monitor-metric-static-fired.test-action.json")
RUN = load_fixture("aml-runcompleted.eventgrid.json")
DEEP = b"[" * 200_000
TOO_DEEP = "body: nested deeper than 64 levels of arrays and objects; no payload the router reads nests that deep"
HUGE = b"9" * 5000
HUGE_MESSAGE = ("body: got a 5000-digit number; integers of more than 4300 digits are not accepted "
                "(send a value this long as a string)")
HUGE_SEVERITY = json.dumps(ALERT).replace('"Sev4"', "4" * 5000).encode()


def post(server, path, body: bytes) -> requests.Response:
    return requests.post(server.url + path, data=body, headers={"Content-Type": "application/json"}, timeout=30)


@pytest.mark.parametrize("path", ["/api/eventgrid", "/api/alerts", "/api/silences", "/api/ack",
                                  "/runtime/webhooks/EventGrid?functionName=aml_events"])
def test_deep_nesting_and_huge_numbers_answer_400_on_every_body(server, path):
    for body, message in [(DEEP, TOO_DEEP), (HUGE, HUGE_MESSAGE)]:
        resp = post(server, path, body)
        assert resp.status_code == 400, resp.text
        assert resp.json()["error"] == message or path == "/api/ack"  # (ack says what it expects instead)
    assert requests.get(server.url + "/api/health", timeout=10).status_code == 200


def test_a_huge_severity_and_wrong_types_say_where(server, httpserver):
    resp = post(server, "/api/alerts", HUGE_SEVERITY)
    assert (resp.status_code, resp.json()["error"]) == (400, (
        "data.essentials.severity: got a 5000-digit number; integers of more than 4300 digits are not accepted "
        "(send a value this long as a string)"))
    alert = json.loads(json.dumps(ALERT))
    alert["data"]["essentials"]["alertTargetIDs"] = 42
    resp = post(server, "/api/alerts", json.dumps(alert).encode())
    assert (resp.status_code, resp.json()["error"]) == (
        400, "data.essentials.alertTargetIDs: expected an array, got a number")
    run = json.loads(json.dumps(RUN))
    run[0]["data"]["runProperties"] = [1, 2]
    resp = post(server, "/api/eventgrid", json.dumps(run).encode())
    assert (resp.status_code, resp.json()["error"]) == (
        400, "event [0]: data.runProperties: expected an object, got an array")
    metrics = requests.get(server.url + "/metrics", timeout=10).text
    assert 'alertrouter_rejected_payloads_total{endpoint="alerts",reason="wrong_type"} 1.0' in metrics
    assert 'alertrouter_rejected_payloads_total{endpoint="alerts",reason="malformed_json"} 1.0' in metrics
    assert captured(httpserver, 0) == []  # nothing was taken in


def test_silence_bodies_of_the_wrong_shape_answer_400(server):
    base = {"matchers": {"resource": "vm-1"}, "duration": "1h", "created_by": "ana", "comment": "reboot"}
    cases = [
        (b"[1]", 'body: expected a JSON object like {"matchers": {"label": "value"}, "duration": "1h" or '
                 '"ends_at": unix seconds, "created_by", "comment"}, got an array'),
        (json.dumps({**base, "matchers": ["resource=vm-1"]}).encode(),
         'matchers: expected an object like {"resource": "vm-7"}, got an array'),
        (json.dumps({**base, "ends_at": 10**400}).encode(), "ends_at: expected a UNIX time in seconds, got a number"),
        (json.dumps({**base, "starts_at": "soon"}).encode(),
         "starts_at: expected a UNIX time in seconds, got a string 'soon'"),
        (json.dumps({**base, "duration": 10**400}).encode(), "duration: too long"),
        (json.dumps({**base, "duration": "forever"}).encode(),
         'duration: "forever" is not a duration; write it like 30s, 5m, 4h, 1d or 2w'),
    ]
    for body, message in cases:
        resp = post(server, "/api/silences", body)
        assert (resp.status_code, resp.json()) == (400, {"error": message})
    assert post(server, "/api/silences", json.dumps(base).encode()).status_code == 201


def test_acknowledge_bodies_and_tokens_of_any_shape_answer_4xx(server, tmp_path):
    for body in [b"[1]", b'"token"', b"{", DEEP]:
        assert post(server, "/api/ack", body).status_code == 400, body
    config = CAPTURE_CONFIG.replace("${CAPTURE_URL}", "http://127.0.0.1:9/hook")
    api = HttpApi(App(loads(config, str(tmp_path / "routing.yaml")), tmp_path / "data", ack_secret=b"k" * 32))
    not_a_string = {"error": '"token" must be a string: the token of the acknowledge link'}
    for doc, answer in [({"token": ["a.b"]}, not_a_string), ({"token": 7, "by": {"x": 1}}, not_a_string),
                        ({"token": "no dot"}, {"error": "malformed acknowledge token"})]:
        resp = api.ack(Request("POST", "/api/ack", {}, body=json.dumps(doc).encode()))
        assert resp.status == 400 and json.loads(resp.body) == answer, doc
    for token in ["abc.d\u00e9f", "\u202e.\u0000", "x" * 5000 + ".y", "a.\ud800"]:  # any signature text: 403
        resp = api.ack(Request("GET", "/api/ack", {}, query={"token": token}))
        assert resp.status == 403 and b"bad signature" in resp.body, token


def test_console_try_a_payload_answers_400_with_the_reason(server):
    session = requests.Session()
    page = session.get(server.url + "/routing", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    for payload, shown in [(DEEP.decode(), "nested deeper than 64 levels"), (HUGE.decode(), "5000-digit number"),
                           (HUGE_SEVERITY.decode(), "data.essentials.severity: got a 5000-digit number")]:
        resp = session.post(server.url + "/routing/try", data={"csrf": csrf, "payload": payload}, timeout=30)
        assert resp.status_code == 400 and shown in resp.text


def test_the_functions_trigger_logs_and_drops_an_event_it_can_never_read(functions_env, httpserver, caplog):
    """Raised, the event would come back on every Event Grid retry for hours and fail alike."""
    from handlers.eventgrid import aml_events

    [obj] = json.loads(json.dumps(RUN))
    obj["data"]["runProperties"] = "not an object"
    event = func.EventGridEvent(id=obj["id"], data=obj["data"], topic=obj["topic"], subject=obj["subject"],
                                event_type=obj["eventType"], event_time=None, data_version=obj["dataVersion"])
    with caplog.at_level(logging.WARNING):
        assert aml_events.build().get_user_function()(event) is None
    [record] = [r for r in caplog.records if r.name == "alertrouter.eventgrid"]
    assert record.getMessage() == (f"dropped Event Grid event {obj['id']}: "
                                   "event: data.runProperties: expected an object, got a string")
    assert record.exc_info is None
    assert captured(httpserver, 0) == []


def test_a_store_that_cannot_be_reached_is_still_a_500(tmp_path, caplog):
    """Our fault, worth a retry: the sender keeps the alert until the store is back."""
    port = free_port()  # nothing listens there
    conn = (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT};QueueEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")
    store = AzureStore.from_settings(AzureStorage(connection_string=conn, table_prefix="tdown", queue_name="q-down"),
                                     create=False, retry_total=0)
    config = CAPTURE_CONFIG.replace("${CAPTURE_URL}", "http://127.0.0.1:9/hook")
    api = HttpApi(App(loads(config, str(tmp_path / "routing.yaml")), tmp_path / "data", store=store))
    with caplog.at_level(logging.ERROR):
        resp = api.alerts(Request("POST", "/api/alerts", {}, body=json.dumps(ALERT).encode()))
    assert (resp.status, json.loads(resp.body)) == (
        500, {"error": "internal error; the event was not processed and may be retried"})
    assert [r.getMessage() for r in caplog.records] == ["internal error while handling a request"]
    assert api.alerts(Request("POST", "/api/alerts", {}, body=DEEP)).status == 400  # read before the store


def test_the_functions_trigger_bounds_nesting_and_mends_surrogates(functions_env, httpserver, caplog):
    from handlers.eventgrid import aml_events

    [obj] = json.loads(json.dumps(RUN))
    deep = "x"
    for _ in range(300):  # the worker decoded it: it reaches us as a value, not as text
        deep = [deep]
    run = aml_events.build().get_user_function()
    with caplog.at_level(logging.WARNING):
        assert run(func.EventGridEvent(id="deep", data={**obj["data"], "deep": deep}, topic=obj["topic"],
                                       subject=obj["subject"], event_type=obj["eventType"], event_time=None,
                                       data_version="1")) is None
        assert run(func.EventGridEvent(id="odd", data={**obj["data"], "experimentName": "exp\ud800"},
                                       topic=obj["topic"], subject=obj["subject"], event_type=obj["eventType"],
                                       event_time=None, data_version="1")) is None
    assert [r.getMessage() for r in caplog.records if r.name == "alertrouter.eventgrid"] == [
        "dropped Event Grid event deep: event: nested deeper than 64 levels of arrays and objects; "
        "no payload the router reads nests that deep"]
    [delivered] = captured(httpserver, 1)
    assert delivered["data"]["labels"]["experiment"] == "exp\ufffd"
