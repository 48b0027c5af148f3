"""The real azure-eventgrid EventGridPublisherClient posting to the local server."""

from __future__ import annotations

from azure.core.credentials import AzureKeyCredential
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridEvent, EventGridPublisherClient, SystemEventNames

from tests.conftest import captured

WS = "/subscriptions/s1/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"


def test_eventgrid_schema_events(server, httpserver):
    client = EventGridPublisherClient(server.url + "/api/eventgrid", AzureKeyCredential("local-key"))
    client.send([
        EventGridEvent(subject="experiments/e1/runs/run-1", event_type=SystemEventNames.MachineLearningServicesRunStatusChangedEventName.value,
                       data={"experimentName": "churn", "runId": "run-1", "runStatus": "Running"}, data_version="2",
                       topic=WS),
        EventGridEvent(subject="models/churn-model:3", event_type=SystemEventNames.MachineLearningServicesModelRegisteredEventName.value,
                       data={"modelName": "churn-model", "modelVersion": "3"}, data_version="2", topic=WS),
        EventGridEvent(subject="anything", event_type="Contoso.Custom.Thing", data={"x": 1}, data_version="1"),
    ])
    got = sorted(b["data"]["kind"] for b in captured(httpserver, 3))
    assert got == ["event.other", "model.registered", "run.started"]


def test_cloudevents_batch(server, httpserver):
    client = EventGridPublisherClient(server.url + "/api/eventgrid", AzureKeyCredential("local-key"))
    client.send([
        CloudEvent(source=WS, type="Microsoft.MachineLearningServices.RunCompleted", subject="experiments/e/runs/r2",
                   data={"experimentName": "churn", "runId": "r2"}),
        CloudEvent(source=WS, type="Microsoft.MachineLearningServices.DatasetDriftDetected",
                   data={"dataDriftName": "drift-mon", "dataDriftId": "d1", "driftCoefficient": 0.7}),
    ])
    bodies = captured(httpserver, 2)
    assert sorted((b["data"]["kind"], b["data"]["labels"]["workspace"]) for b in bodies) == [
        ("dataset.drift_detected", "ws-prod"), ("run.completed", "ws-prod")]
    [req, _] = httpserver.log[0]
    assert req.headers["User-Agent"].startswith("alertrouter/")


def test_single_cloudevent_structured_mode(server, httpserver):
    import json

    import requests

    event = {"specversion": "1.0", "id": "one", "source": WS, "type": "Microsoft.MachineLearningServices.RunStatusChanged",
             "data": {"experimentName": "churn", "runId": "r3", "runStatus": "Failed"}}
    resp = requests.post(server.url + "/api/eventgrid", data=json.dumps(event),
                         headers={"Content-Type": "application/cloudevents+json; charset=utf-8"}, timeout=5)
    assert resp.status_code == 200
    assert [b["data"]["kind"] for b in captured(httpserver, 1)] == ["run.failed"]
