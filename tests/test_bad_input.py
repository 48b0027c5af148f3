"""Bad input never answers 5xx. Every real payload fixture (and every alertContext fragment, wrapped
as tests/inbound/test_alert_contexts.py wraps it), mutated by hypothesis: types swapped, keys dropped
and re-cased, values nested, huge numbers, odd strings, truncated JSON, posted to the local server on
loopback (intake, silences, acknowledge, the console's try-a-payload). Never a 5xx, never a traceback
in the log, and the server healthy after (it answers, takes a real payload, delivers what it took)."""

from __future__ import annotations

import copy
import json
import logging
import re
import uuid

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertrouter.app import App
from alertrouter.config.load import loads
from alertrouter.pipeline import escalate
from tests.conftest import CAPTURE_CONFIG, FIXTURES, RunningServer, fixture_files, wait_until
from tests.inbound.test_alert_contexts import CASES

ACK_SECRET = b"k" * 32
# Modest and stable for CI: a fixed example sequence, no example database, no per-example deadline.
BOUNDED = dict(derandomize=True, database=None, deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _payloads() -> dict[str, object]:
    out = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in fixture_files()}
    for key, service, _ in CASES:
        fragment = json.loads((FIXTURES / "monitor" / "alertcontext" / f"monitor-{key}-fired.docs.json").read_text())
        out[f"alertcontext/{key}"] = {"schemaId": "azureMonitorCommonAlertSchema", "data": {
            "essentials": {"alertId": "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/x",
                           "alertRule": "rule", "severity": "Sev2", "monitorCondition": "Fired",
                           "monitoringService": service, "firedDateTime": "2026-11-20T10:00:00Z"},
            "alertContext": fragment["alertContext"]}}
    return out


PAYLOADS = _payloads()
HUGE = "__huge_number__"  # replaced in the JSON text by an integer too long for Python to convert

ODD_STRINGS = st.one_of(st.text(max_size=40), st.sampled_from([
    "", " ", "\x00", "\x1b[31mred\x1b[0m\x07", "\u202eevil", "\ud800", "x\udfffy", "💥", "x" * 20_000,
    "[" * 5_000, '{"a": ' + "[" * 3_000, "[[[[1]]]]", "1e999", "-0", "NaN", "Sev9", "sev-1", "Sev" + "9" * 5_000,
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59.9999999-14:00", "2026-13-45T25:61:61Z", "0/0/0 0:0:0 XM",
    "/subscriptions/" * 200, "/subscriptions/s/resourcegroups/", "javascript:alert(1)", "<script>x</script>",
    "{}", "null", "models/", ":", ",,,", "%s%n%x{0}{{", "\r\n\t"]))
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), ODD_STRINGS,
    st.sampled_from([10**4000, -10**4000, 10**300, 2**63, -1, 0, 1e308, -1e308, 5e-324, float("inf"), [], {},
                     [None], [[]], {"": None}, {"name": None, "value": []}]),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=4),
    st.dictionaries(st.text(max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=5)), max_size=4),
    st.just(HUGE))


def _paths(value, where=()):
    yield where
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, where + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, where + (i,))


def _get(value, where):
    for p in where:
        value = value[p]
    return value


@st.composite
def _mutated(draw, doc):
    """One fixture value with one to four mutations at places drawn from its own tree."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(doc))[::-1]  # deepest first (hypothesis favours the first); the root last
        containers = [w for w in paths if isinstance(_get(doc, w), (dict, list))]  # where adapters crashed
        where = draw(st.sampled_from(containers if containers and draw(st.booleans()) else paths))
        op = draw(st.sampled_from(["swap", "swap", "drop", "recase", "nest", "grow"]))
        parent, key = (_get(doc, where[:-1]), where[-1]) if where else (None, None)
        old = _get(doc, where)
        if op == "swap":
            new = copy.deepcopy(draw(ODD_VALUES))  # (sampled values are shared objects: never mutate them)
        elif op == "nest":
            new = old
            for _ in range(draw(st.sampled_from([1, 2, 5, 63, 64, 65, 200]))):
                new = draw(st.sampled_from([[new], {"x": new}]))
        elif op == "grow" and isinstance(old, list):
            new = old + [copy.deepcopy(old[0]) if old else None, copy.deepcopy(draw(ODD_VALUES))]
        elif op in ("drop", "recase") and isinstance(parent, dict):
            value = parent.pop(key)
            if op == "recase":
                parent[draw(st.sampled_from([str.upper, str.lower, str.swapcase, str.title]))(key)] = value
            continue
        else:
            new = copy.deepcopy(draw(ODD_VALUES))
        if parent is None:
            doc = new
        else:
            parent[key] = new
    return doc


@st.composite
def bodies(draw, docs):
    """Mutated JSON text as bytes, sometimes truncated, sometimes with bytes that are not UTF-8."""
    doc = draw(_mutated(draw(docs)))
    text = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    text = text.replace(json.dumps(HUGE), "9" * draw(st.integers(4_301, 6_000)))
    body = text.encode("utf-8", "surrogatepass")
    cut = draw(st.sampled_from(["whole"] * 6 + ["truncated", "garbage"]))
    if cut == "truncated":
        body = body[: draw(st.integers(0, max(len(body) - 1, 0)))]
    elif cut == "garbage":
        body = (draw(st.sampled_from([b"\xef\xbb\xbf", b"\xff", b""])) + body
                + draw(st.sampled_from([b"", b"\xc3", b"]"])))
    return body


class Tracebacks(logging.Handler):
    """Every record that carries a traceback, from our loggers and uvicorn's (which do not propagate)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.found: list[str] = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info or "Traceback (most recent call last)" in text:
            self.found.append(f"{record.name}: {text[:300]}")


@pytest.fixture(scope="module")
def hostile():
    """The local server on loopback, delivering to a loopback receiver, acknowledgements enabled."""
    import tempfile
    from pathlib import Path

    from pytest_httpserver import HTTPServer

    receiver = HTTPServer(host="127.0.0.1", threaded=True)
    receiver.start()
    receiver.expect_request("/hook").respond_with_data("", status=202)
    tracebacks = Tracebacks()
    loggers = [logging.getLogger(), logging.getLogger("uvicorn")]
    for lg in loggers:
        lg.addHandler(tracebacks)
    with tempfile.TemporaryDirectory() as tmp:
        config = CAPTURE_CONFIG.replace("${CAPTURE_URL}", receiver.url_for("/hook"))
        app = App(loads(config, str(Path(tmp) / "routing.yaml")), Path(tmp) / "data", ack_secret=ACK_SECRET)
        with RunningServer(app) as server:
            server.tracebacks = tracebacks
            server.receiver = receiver
            yield server
    for lg in loggers:
        lg.removeHandler(tracebacks)
    receiver.stop()


def _post(server, path: str, body: bytes, **headers) -> requests.Response:
    return requests.post(server.url + path, data=body, headers={"Content-Type": "application/json", **headers},
                         timeout=30)


def _healthy_after(server) -> None:
    """Answers, takes a real payload, delivers everything it took; no traceback was logged."""
    assert requests.get(server.url + "/api/health", timeout=10).status_code == 200
    alert = copy.deepcopy(PAYLOADS["monitor-metric-static-fired.test-action.json"])
    alert["data"]["essentials"]["alertId"] += f"-after-{uuid.uuid4().hex}"
    assert _post(server, "/api/alerts", json.dumps(alert).encode()).json()["accepted"] == 1
    store = server.app.store
    wait_until(lambda: store.counts()["pending"] == 0, timeout=60, what="every notification taken in to be delivered")
    assert server.tracebacks.found == []


def _endpoint(name: str) -> str:
    return "/api/alerts" if name.startswith(("monitor", "alertcontext")) else "/api/eventgrid"


def test_intake_of_mutated_fixtures_never_answers_5xx(hostile):
    @settings(max_examples=250, **BOUNDED)
    @given(name=st.sampled_from(sorted(PAYLOADS)), data=st.data())
    def post_one(name, data):
        body = data.draw(bodies(st.just(PAYLOADS[name])))
        path = _endpoint(name) if data.draw(st.integers(0, 4)) else data.draw(st.sampled_from(
            ["/api/alerts", "/api/eventgrid", "/runtime/webhooks/EventGrid?functionName=aml_events"]))
        resp = _post(hostile, path, body)
        assert resp.status_code in (200, 400, 413), resp.text
        assert resp.status_code == 200 or resp.json()["error"]

    post_one()
    _healthy_after(hostile)


SILENCE = {"matchers": {"resource": "vm-7", "severity": {"at_least": "error"}}, "duration": "1h",
           "created_by": "ana", "comment": "reboot", "starts_at": 1_800_000_000, "ends_at": 1_800_003_600}


def test_silences_and_acknowledgements_with_mutated_bodies_never_answer_5xx(hostile):
    token = escalate.make_token(ACK_SECRET, "no-such-event", "fp", "all", hostile.app.clock())

    @settings(max_examples=120, **BOUNDED)
    @given(which=st.sampled_from(["silence", "ack", "ack-query"]), data=st.data())
    def post_one(which, data):
        if which == "ack-query":  # (as bytes: a lone surrogate goes out as the invalid UTF-8 it makes)
            query = {k: data.draw(ODD_STRINGS).encode("utf-8", "surrogatepass") for k in ("token", "by")}
            resp = requests.get(hostile.url + "/api/ack", params=query, timeout=30)
        else:
            doc = SILENCE if which == "silence" else {"token": token, "by": "ana"}
            resp = _post(hostile, "/api/silences" if which == "silence" else "/api/ack",
                         data.draw(bodies(st.just(doc))))
        assert resp.status_code < 500, resp.text

    post_one()
    _healthy_after(hostile)


def test_console_try_a_payload_with_mutated_fixtures_never_answers_5xx(hostile):
    session = requests.Session()
    page = session.get(hostile.url + "/routing", timeout=10)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    events = hostile.app.store.counts()["events"]

    @settings(max_examples=60, **BOUNDED)
    @given(name=st.sampled_from(sorted(PAYLOADS)), data=st.data())
    def try_one(name, data):
        payload = data.draw(bodies(st.just(PAYLOADS[name]))).decode("utf-8", "replace")
        resp = session.post(hostile.url + "/routing/try", data={"csrf": csrf, "payload": payload}, timeout=30)
        assert resp.status_code in (200, 400), resp.text[-2000:]

    try_one()
    assert hostile.app.store.counts()["events"] == events  # trying a payload takes nothing in
    _healthy_after(hostile)
