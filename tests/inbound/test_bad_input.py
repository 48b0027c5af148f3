"""Payloads that can never succeed are refused with what and where (a PayloadError, so 400), and
the parse is bounded: nesting, huge integers, unpaired surrogates, wrong JSON types in known fields."""

from __future__ import annotations

import copy
import json

import pytest

from alertrouter.errors import MalformedJson, WrongType
from alertrouter.inbound import _json, parse_body
from alertrouter.inbound._util import maybe_json
from tests.conftest import load_fixture

ALERT = load_fixture("monitor-metric-static-fired.test-action.json")
RUN = load_fixture("aml-runcompleted.eventgrid.json")


def body(doc) -> bytes:
    return json.dumps(doc).encode()


def with_path(doc, path, value):
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def refused(raw: bytes, exc=MalformedJson, endpoint=None) -> str:
    with pytest.raises(exc) as info:
        parse_body(raw, "application/json", endpoint)
    return str(info.value)


def test_200_kb_of_brackets_is_too_deep_not_a_recursion_error():
    assert refused(b"[" * 200_000) == (
        "body: nested deeper than 64 levels of arrays and objects; no payload the router reads nests that deep")


def test_nesting_is_bounded_at_64_levels_and_within_it_an_event_is_read():
    def nested(levels):
        value = "x"
        for _ in range(levels):
            value = [value]
        return value

    # the event array and the event object are two levels, data a third
    ok = with_path(RUN, [0, "data", "runProperties", "deep"], json.dumps(nested(100)))  # JSON text in a string
    ok[0]["data"]["deepest"] = nested(61)
    [event] = parse_body(body(ok)).events
    assert event.kind == "run.completed"
    assert event.details["property.deep"] == json.dumps(nested(100))  # too deep to read: kept as its text
    too_deep = with_path(RUN, [0, "data", "deepest"], nested(62))
    assert refused(body(too_deep)).startswith("body: nested deeper than 64 levels")
    assert refused(body(nested(300))).startswith("body: nested deeper than 64 levels")


def test_an_integer_too_long_to_convert_is_named_where_it_is():
    assert refused(b"9" * 5000) == ("body: got a 5000-digit number; integers of more than 4300 digits are not "
                                    "accepted (send a value this long as a string)")
    raw = json.dumps(with_path(ALERT, ["data", "essentials", "severity"], "HUGE")).replace('"HUGE"', "1" * 5000)
    assert refused(raw.encode()) == ("data.essentials.severity: got a 5000-digit number; integers of more than "
                                     "4300 digits are not accepted (send a value this long as a string)")
    raw = json.dumps(with_path(RUN, [0, "data", "run tags"], ["HUGE"])).replace('"HUGE"', "-" + "7" * 4301)
    assert refused(raw.encode()).startswith('[0].data["run tags"][0]: got a 4301-digit number;')


def test_a_huge_integer_before_a_syntax_error_reports_the_syntax_error():
    assert refused(b'{"a": ' + b"1" * 4400 + b' "b": 2}') == (
        "malformed JSON at line 1 column 4408: Expecting ',' delimiter")


def test_an_integer_within_the_limit_is_read_and_shown():
    doc = with_path(ALERT, ["data", "essentials", "severity"], 10**4000)
    [event] = parse_body(body(doc)).events
    assert event.severity.value == "warning"  # not Sev0..Sev4: the kind's default, as for any unknown severity
    drift = load_fixture("aml-datasetdriftdetected.eventgrid.json")
    drift[0]["data"]["driftCoefficient"] = 10**400  # too large for a float: shown as its digits
    [event] = parse_body(body(drift)).events
    assert event.labels["drift_coefficient"] == str(10**400)


def test_unpaired_surrogates_become_the_replacement_character():
    raw = json.dumps(with_path(ALERT, ["data", "essentials", "alertRule"], "cpu\ud800high")).encode()
    [event] = parse_body(raw).events
    assert event.labels["alert_rule"] == "cpu\ufffdhigh"
    pair = json.dumps(with_path(ALERT, ["data", "essentials", "alertRule"], "cpu \U0001f525")).encode()
    assert b"\\ud83d\\udd25" in pair  # a surrogate pair, escaped: one character
    assert parse_body(pair).events[0].labels["alert_rule"] == "cpu \U0001f525"
    assert maybe_json('["\\udc00"]') == ["\ufffd"]


@pytest.mark.parametrize("path,value,message", [
    (["data", "essentials", "alertTargetIDs"], 5,
     "data.essentials.alertTargetIDs: expected an array, got a number"),
    (["data", "essentials", "configurationItems"], {"0": "vm"},
     "data.essentials.configurationItems: expected an array, got an object"),
    (["data", "alertContext", "condition", "allOf"], "cpu",
     "data.alertContext.condition.allOf: expected an array, got a string"),
    (["data", "alertContext", "condition", "allOf", 0, "dimensions"], True,
     "data.alertContext.condition.allOf[0].dimensions: expected an array, got a boolean"),
])
def test_a_known_field_of_an_impossible_type_is_refused_with_its_path(path, value, message):
    assert refused(body(with_path(ALERT, path, value)), WrongType, "alerts") == message


def test_in_a_batch_a_broken_event_refuses_the_whole_delivery_naming_it():
    """As for a broken envelope: Event Grid then dead-letters the delivery whole (the shipped
    subscription delivers one event at a time), and no event of it is half taken in."""
    broken = with_path(RUN, [0, "data", "runProperties"], ["not", "an", "object"])
    assert refused(body(RUN + broken), WrongType) == (
        "event [1]: data.runProperties: expected an object, got an array")


def test_legacy_and_service_health_lists_are_checked_too():
    log_v1 = load_fixture("monitor-legacy-log-v1-loganalytics-fired.noncommon.json")
    assert refused(body(with_path(log_v1, ["AffectedConfigurationItems"], 3)), WrongType) == (
        "AffectedConfigurationItems: expected an array, got a number")
    health = load_fixture("monitor-servicehealth-fired-stage-resolved.test-action.json")
    services = health["data"]["alertContext"]["properties"]["impactedServices"]
    services = json.loads(services) if isinstance(services, str) else services
    services[0]["ImpactedRegions"] = 7
    doc = with_path(health, ["data", "alertContext", "properties", "impactedServices"], services)
    assert refused(body(doc), WrongType) == (
        "data.alertContext.properties.impactedServices[0].ImpactedRegions: expected an array, got a number")


def test_unknown_fields_and_types_still_never_break_anything():
    doc = with_path(RUN, [0, "data", "somethingNew"], {"x": [1, {"y": None}]})
    doc[0]["eventType"] = "Contoso.Unknown.Thing"
    doc[0]["data"]["runProperties"] = 5  # not read for an unknown type
    [event] = parse_body(body(doc)).events
    assert event.kind == "event.other"
    empty = with_path(RUN, [0, "data", "runProperties"], None)  # absent or null: nothing to read
    assert parse_body(body(empty)).events[0].kind == "run.completed"


def test_path_rendering():
    assert _json.path(["data", "essentials", "severity"]) == "data.essentials.severity"
    assert _json.path([0, "data", "odd key", 2]) == '[0].data["odd key"][2]'
    assert _json.path([]) == "body"
