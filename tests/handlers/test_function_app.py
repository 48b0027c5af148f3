"""Index function_app.py as the Functions worker does and check every function and binding;
call the HTTP functions with the library's own request objects."""

from __future__ import annotations

import json
import re

import azure.functions as func
import pytest

from tests.conftest import ROOT, captured, indexed_functions, load_fixture


@pytest.fixture(scope="module")
def indexed():
    return indexed_functions()


def test_functions_and_bindings(indexed):
    bindings = {name: json.loads(f.get_function_json())["bindings"] for name, f in indexed.items()}
    assert bindings == {
        "aml_events": [{"direction": "IN", "type": "eventGridTrigger", "name": "event"}],
        "deliver": [{"direction": "IN", "type": "queueTrigger", "name": "msg",
                     "queueName": "%ALERTROUTER_AZURE__QUEUE_NAME%", "connection": "AzureWebJobsStorage"}],
        "sweep": [{"direction": "IN", "type": "timerTrigger", "name": "timer", "schedule": "0 */1 * * * *"}],
        "digests": [{"direction": "IN", "type": "timerTrigger", "name": "timer", "schedule": "0 */5 * * * *"}],
        "eventgrid_webhook": [
            {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["POST", "OPTIONS"],
             "authLevel": "FUNCTION", "route": "eventgrid"},
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
        "monitor_alerts": [
            {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["POST"], "authLevel": "FUNCTION",
             "route": "alerts"},
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
        "acknowledge": [
            {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["GET", "HEAD", "POST"],
             "authLevel": "ANONYMOUS", "route": "ack"},
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
        "silences": [
            {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["GET", "POST"],
             "authLevel": "FUNCTION", "route": "silences"},
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
        "expire_silence": [
            {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["POST"], "authLevel": "FUNCTION",
             "route": "silences/{id}/expire"},
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
        "health": [
            {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["GET"], "authLevel": "ANONYMOUS",
             "route": "health"},
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
        "console": [
            {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["GET", "POST"],
             "authLevel": "ANONYMOUS", "route": "console/{*path}"},
            {"direction": "OUT", "type": "http", "name": "$return"},
        ],
    }
    assert all(json.loads(f.get_function_json())["scriptFile"] == "function_app.py" for f in indexed.values())


def test_core_never_imports_azure_functions():
    imports = re.compile(r"^\s*(import azure\.functions|from azure\.functions|from azure import functions)", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "alertrouter").rglob("*.py")
                 if imports.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_host_json_and_settings_sample():
    host = json.loads((ROOT / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.0.0, 5.0.0)"}
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())
    assert sample["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"
    assert all(isinstance(v, str) for v in sample["Values"].values())


def call(indexed, name: str, req: func.HttpRequest) -> func.HttpResponse:
    return indexed[name].get_user_function()(req)


def test_http_alerts_function(indexed, functions_env, httpserver):
    body = json.dumps(load_fixture("monitor-metric-static-fired.test-action.json")).encode()
    resp = call(indexed, "monitor_alerts", func.HttpRequest("POST", "/api/alerts", body=body,
                                                           headers={"Content-Type": "application/json"}))
    assert resp.status_code == 200
    assert json.loads(resp.get_body()) == {"accepted": 1, "duplicates": 0, "notifications": 1}
    assert [b["data"]["kind"] for b in captured(httpserver, 1)] == ["alert.fired"]


def test_http_eventgrid_validation_handshake(indexed, functions_env):
    body = json.dumps(load_fixture("eventgrid-subscriptionvalidation.request.json")).encode()
    resp = call(indexed, "eventgrid_webhook", func.HttpRequest(
        "POST", "/api/eventgrid", body=body, headers={"aeg-event-type": "SubscriptionValidation"}))
    assert resp.status_code == 200
    assert json.loads(resp.get_body()) == load_fixture("eventgrid-subscriptionvalidation.response.json")


def test_http_cloudevents_options_handshake(indexed, functions_env):
    resp = call(indexed, "eventgrid_webhook", func.HttpRequest(
        "OPTIONS", "/api/eventgrid", body=b"", headers={"WebHook-Request-Origin": "eventgrid.azure.net"}))
    assert resp.status_code == 200
    assert resp.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"
    assert resp.headers["WebHook-Allowed-Rate"] == "*"


def test_http_bad_payload_is_400_with_reason(indexed, functions_env):
    resp = call(indexed, "monitor_alerts", func.HttpRequest("POST", "/api/alerts", body=b"{oops"))
    assert resp.status_code == 400
    assert json.loads(resp.get_body()) == {
        "error": "malformed JSON at line 1 column 2: Expecting property name enclosed in double quotes"}


def test_health(indexed, functions_env):
    resp = call(indexed, "health", func.HttpRequest("GET", "/api/health", body=b""))
    assert resp.status_code == 200
    assert json.loads(resp.get_body())["status"] == "ok"


def test_function_app_imports_offline_and_cheaply():
    # Indexing imports function_app: it must not build the App (config, store, network) at import.
    import importlib

    import handlers._runtime as rt

    rt.reset()
    importlib.reload(importlib.import_module("function_app"))
    assert rt._api is None
