"""Which instance of an alert fired: every criterion's dimensions (metric, Log V2) and Log V1's
`Dimensions` become `dimension.<name>` labels, the custom properties `custom.<name>`, and routes
match on both (issue 20, item 11)."""

from __future__ import annotations

import copy

import pytest

from alertrouter.config.load import loads
from alertrouter.errors import WrongType
from alertrouter.inbound import parse_payload
from alertrouter.routing.router import Router
from tests.conftest import load_fixture

METRIC = "monitor-metric-static-fired.test-action.json"
LOG_V2 = "monitor-log-v2-fired.test-action.json"
LOG_V1 = "monitor-log-v1-loganalytics-metricmeasurement-fired.test-action.json"


def labels_of(payload) -> dict[str, str]:
    [event] = parse_payload(payload).events
    return event.labels


def test_metric_dimensions_and_custom_properties_are_labels():
    labels = labels_of(load_fixture(METRIC))
    assert labels["dimension.ApiName"] == "GetBlob"
    assert (labels["custom.customKey1"], labels["custom.customKey2"]) == ("value1", "value2")


def test_log_v2_dimensions_are_labels():
    assert labels_of(load_fixture(LOG_V2))["dimension.Computer"] == "test-computer"


def test_every_criterion_adds_its_dimensions_in_order_the_first_value_kept():
    payload = load_fixture(METRIC)
    criteria = payload["data"]["alertContext"]["condition"]["allOf"]
    second = copy.deepcopy(criteria[0])
    second.update(metricName="Ingress", dimensions=[{"name": "ApiName", "value": "PutBlob"},
                                                    {"name": "GeoType", "value": "Primary"},
                                                    {"name": "Authentication", "value": "SAS"}])
    criteria.append(second)
    labels = labels_of(payload)
    dims = [(k, v) for k, v in labels.items() if k.startswith("dimension.")]
    assert dims == [("dimension.ApiName", "GetBlob"), ("dimension.GeoType", "Primary"),
                    ("dimension.Authentication", "SAS")]


def test_log_v1_dimensions_are_labels():
    payload = load_fixture(LOG_V1)
    payload["data"]["alertContext"]["Dimensions"] = [{"name": "Computer", "value": "vm-7"},
                                                     {"name": "_ResourceId", "value": "/subscriptions/x/vm-7"}]
    labels = labels_of(payload)
    assert labels["dimension.Computer"] == "vm-7"
    assert labels["dimension._ResourceId"] == "/subscriptions/x/vm-7"


def test_a_second_criterion_with_dimensions_of_the_wrong_type_is_refused_where_it_is():
    payload = load_fixture(METRIC)
    criteria = payload["data"]["alertContext"]["condition"]["allOf"]
    criteria.append({**criteria[0], "dimensions": "ApiName=GetBlob"})
    with pytest.raises(WrongType, match=r"data\.alertContext\.condition\.allOf\[1\]\.dimensions: expected an "
                                        r"array, got a string"):
        parse_payload(payload)


def test_routes_match_on_a_dimension_and_a_custom_property():
    loaded = loads("""version: 1
roles:
  storage: {channels: [log]}
  team-blue: {channels: [log]}
  others: {channels: [log]}
routes:
  - name: blob-reads
    match: {dimension.ApiName: GetBlob}
    roles: [storage]
    continue: true
  - name: owned-by-blue
    match: {custom.team: blue}
    roles: [team-blue]
default_route: {roles: [others]}
""", env={})
    router = Router(loaded)
    payload = load_fixture(METRIC)
    payload["data"]["customProperties"]["team"] = "blue"
    [event] = parse_payload(payload).events
    assert router.route(event).roles == ["storage", "team-blue"]
    payload["data"]["alertContext"]["condition"]["allOf"][0]["dimensions"][0]["value"] = "PutBlob"
    payload["data"]["customProperties"]["team"] = "red"
    [event] = parse_payload(payload).events
    assert router.route(event).roles == ["others"]
