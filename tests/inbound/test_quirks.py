"""Wire-format quirks from WIRE_FORMATS.md, one table each, and precise errors for bad payloads."""

from __future__ import annotations

import copy
import json

import pytest

from alertrouter.errors import MalformedJson, TooLarge, UnsupportedSchema
from alertrouter.inbound import MAX_BODY_BYTES, decode, parse_body, parse_payload
from tests.conftest import load_fixture

TOPIC = "/subscriptions/s1/resourceGroups/rg1/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"


def run_event(data: dict, etype: str = "RunStatusChanged", **env) -> dict:
    return {"topic": TOPIC, "subject": "experiments/e/runs/r1", "eventType": f"Microsoft.MachineLearningServices.{etype}",
            "eventTime": "2026-11-20T10:00:00.1234567Z", "id": "evt-1", "data": data, "dataVersion": "2",
            "metadataVersion": "1", **env}


@pytest.mark.parametrize("status,kind,severity", [
    ("Running", "run.started", "informational"),
    ("running", "run.started", "informational"),
    ("RUNNING", "run.started", "informational"),
    ("Completed", "run.completed", "informational"),
    ("failed", "run.failed", "error"),
    ("Failed", "run.failed", "error"),
    ("Canceled", "run.canceled", "warning"),
    ("Queued", "run.status_changed", "verbose"),
    ("NotResponding", "run.status_changed", "verbose"),
    ("", "run.status_changed", "verbose"),
])
def test_run_status_any_case(status, kind, severity):
    [e] = parse_payload([run_event({"experimentName": "churn", "runId": "r1", "runStatus": status})]).events
    assert (e.kind, e.severity.value) == (kind, severity)
    assert e.labels["workspace"] == "ws-prod"
    assert e.labels["resource_group"] == "rg1"


@pytest.mark.parametrize("data", [
    {"experimentName": "churn", "runId": "r1", "runStatus": "Failed", "runTags": {"team": "ds"}},
    {"ExperimentName": "churn", "RunId": "r1", "RunStatus": "Failed", "RunTags": {"team": "ds"}},
    {"EXPERIMENTNAME": "churn", "runid": "r1", "runstatus": "Failed", "runtags": {"team": "ds"}},
])
def test_field_names_in_any_case(data):
    [e] = parse_payload([run_event(data)]).events
    assert (e.kind, e.labels["experiment"], e.labels["run_id"], e.labels["tag.team"]) == ("run.failed", "churn", "r1", "ds")


@pytest.mark.parametrize("version", [7, "7"])
def test_model_version_int_or_string(version):
    ev = run_event({"modelName": "churn-model", "modelVersion": version, "modelTags": {}, "modelProperties": {}},
                   etype="ModelRegistered", subject="models/churn-model:7")
    [e] = parse_payload([ev]).events
    assert (e.kind, e.labels["model_version"], e.fingerprint) == ("model.registered", "7", "model:ws-prod:churn-model:7")


def test_run_properties_json_inside_a_string():
    [e] = parse_payload(load_fixture("aml-runcompleted.eventgrid.json")).events
    spec = json.loads(e.details["property.pipeline_spec"])
    assert spec["pipeline_id"] == "5adc0a4fe02504a586f09a4fcbb241f9a4012062"
    assert e.details["property.training_percent"] == "100"


@pytest.mark.parametrize("key", ["specversion", "specVersion", "SpecVersion", "spec_version"])
def test_cloudevents_specversion_spelled_any_way(key):
    ce = {key: "1.0", "id": "c1", "source": TOPIC, "type": "Microsoft.MachineLearningServices.RunCompleted",
          "time": "2026-11-20T10:00:00Z", "data": {"experimentName": "churn", "runId": "r9"}}
    for payload in (ce, [ce]):
        [e] = parse_payload(payload).events
        assert (e.kind, e.labels["run_id"], e.id) == ("run.completed", "r9", f"{TOPIC}|c1")


def test_unknown_event_type_becomes_generic_event():
    ev = {"topic": "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
          "subject": "/blobServices/default/containers/c/blobs/x.csv", "eventType": "Microsoft.Storage.BlobCreated",
          "eventTime": "2026-11-20T10:00:00Z", "id": "b1", "data": {"api": "PutBlob", "extra": {"deep": [1, 2]}},
          "dataVersion": "", "metadataVersion": "1", "someFutureField": True}
    [e] = parse_payload([ev]).events
    assert (e.source, e.kind, e.severity.value) == ("eventgrid", "event.other", "verbose")
    assert e.labels["event_type"] == "Microsoft.Storage.BlobCreated"


def test_unknown_fields_and_unknown_monitoring_service_are_ignored():
    payload = copy.deepcopy(load_fixture("monitor-metric-static-fired.test-action.json"))
    payload["data"]["essentials"]["monitoringService"] = "Some Future Service"
    payload["data"]["essentials"]["brandNewField"] = {"x": 1}
    payload["data"]["alertContext"]["unexpected"] = [1, 2, 3]
    [e] = parse_payload(payload).events
    assert (e.kind, e.labels["monitoring_service"], e.labels["metric_name"]) == ("alert.fired", "Some Future Service",
                                                                                 "Transactions")


@pytest.mark.parametrize("stage,condition,kind", [
    ("Active", "Fired", "alert.fired"),
    ("Resolved", "Fired", "alert.resolved"),
    ("Resolved", "Resolved", "alert.resolved"),
])
def test_service_health_stage_decides_resolution(stage, condition, kind):
    payload = copy.deepcopy(load_fixture("monitor-servicehealth-fired-stage-resolved.test-action.json"))
    payload["data"]["alertContext"]["properties"]["stage"] = stage
    payload["data"]["alertContext"]["status"] = "Active" if stage == "Active" else "Resolved"
    payload["data"]["essentials"]["monitorCondition"] = condition
    [e] = parse_payload(payload).events
    assert e.kind == kind
    assert e.fingerprint == "service-health:TEST-TTT"  # fired and resolved pair up


def test_service_health_impacted_services_as_json_string():
    payload = copy.deepcopy(load_fixture("monitor-servicehealth-fired-stage-resolved.test-action.json"))
    props = payload["data"]["alertContext"]["properties"]
    props["impactedServices"] = json.dumps(props["impactedServices"])
    [e] = parse_payload(payload).events
    assert (e.labels["impacted_services"], e.labels["impacted_regions"]) == ("AzureServiceName", "Global")


def test_fired_and_resolved_share_a_fingerprint_but_not_an_id():
    fired = copy.deepcopy(load_fixture("monitor-metric-static-resolved.json"))
    fired["data"]["essentials"]["monitorCondition"] = "Fired"
    del fired["data"]["essentials"]["resolvedDateTime"]
    [f] = parse_payload(fired).events
    [r] = parse_payload(load_fixture("monitor-metric-static-resolved.json")).events
    assert (f.kind, r.kind) == ("alert.fired", "alert.resolved")
    assert f.fingerprint == r.fingerprint
    assert f.id != r.id


def test_log_v1_time_format():
    from alertrouter.inbound._util import parse_time

    assert parse_time("11/16/2021 10:17:39 AM").isoformat() == "2021-11-16T10:17:39+00:00"
    assert parse_time("2019-03-22T13:58:24.3713213Z").isoformat() == "2019-03-22T13:58:24.371321+00:00"
    assert parse_time("not a time") is None


# --- precise errors ---

@pytest.mark.parametrize("body,exc,message", [
    (b"", MalformedJson, "request body is empty; expected a JSON payload"),
    (b"{bad", MalformedJson, "malformed JSON at line 1 column 2: Expecting property name enclosed in double quotes"),
    (b"\xff\xfe", MalformedJson, "request body is not UTF-8 (byte 0); send JSON encoded as UTF-8"),
    (b"[]", UnsupportedSchema, "empty event array; Event Grid always delivers at least one event"),
    (b"42", UnsupportedSchema, "unknown payload: a JSON int; expected an object or an array of events"),
    (b'[{"id": "1"}]', UnsupportedSchema,
     "event [0]: not an Event Grid event (no 'eventType') nor a CloudEvent (no 'specversion'); keys found: id"),
    (b'[{"eventType": "X", "data": {}}]', UnsupportedSchema,
     "event [0]: Event Grid event is missing required field(s) id"),
    (b'{"specversion": "1.0", "id": "1"}', UnsupportedSchema,
     "event [0]: CloudEvents event is missing required attribute(s) type, source"),
    (b'{"schemaId": "somethingElse", "data": {}}', UnsupportedSchema,
     "unknown payload: schemaId 'somethingElse'. Expected an Event Grid array, a CloudEvent (specversion), the Azure "
     "Monitor common alert schema (schemaId azureMonitorCommonAlertSchema), or a legacy Azure Monitor alert "
     "(AzureMonitorMetricAlert, Microsoft.Insights/activityLogs, Log V1)"),
    (b'{"schemaId": "azureMonitorCommonAlertSchema", "data": {}}', UnsupportedSchema,
     "common alert schema payload has no data.essentials object; is the Action Group sending the common alert "
     "schema (useCommonAlertSchema: true)?"),
])
def test_bad_payloads_have_precise_messages(body, exc, message):
    with pytest.raises(exc) as info:
        parse_body(body)
    assert str(info.value) == message


def test_too_large():
    with pytest.raises(TooLarge) as info:
        decode(b"x" * (MAX_BODY_BYTES + 1))
    assert str(info.value) == ("request body is 1114113 bytes; the limit is 1114112 bytes "
                               "(ALERTROUTER_MAX_BODY_BYTES)")


def test_an_event_of_event_grids_largest_size_in_its_array_is_taken_in():
    """Event Grid sends events of up to 1 MB, each inside an array: that body is a little over 1 MiB."""
    [event] = load_fixture("aml-runstatuschanged-failed.eventgrid.json")
    event["data"]["padding"] = ""
    event["data"]["padding"] = "x" * (1024 * 1024 - len(json.dumps(event)))
    body = json.dumps([event]).encode()
    assert len(body) > 1024 * 1024
    [parsed] = parse_body(body, "application/json", "eventgrid").events
    assert parsed.kind == "run.failed"


def test_wrong_endpoint_says_where_to_post():
    with pytest.raises(UnsupportedSchema, match="Post Event Grid deliveries to /api/eventgrid"):
        parse_payload(load_fixture("aml-runcompleted.eventgrid.json"), endpoint="alerts")
    with pytest.raises(UnsupportedSchema, match="Point the Action Group's webhook at /api/alerts"):
        parse_payload(load_fixture("monitor-budget-fired.test-action.json"), endpoint="eventgrid")


def test_subscription_deletion_is_acknowledged_not_routed():
    ev = {"id": "d1", "topic": TOPIC, "subject": "", "eventType": "Microsoft.EventGrid.SubscriptionDeletionEvent",
          "eventTime": "2026-11-20T10:00:00Z", "data": {}, "dataVersion": "1", "metadataVersion": "1"}
    parsed = parse_payload([ev])
    assert parsed.events == [] and parsed.ignored == ["Microsoft.EventGrid.SubscriptionDeletionEvent d1"]
