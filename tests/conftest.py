"""Shared test fixtures: real payloads, a routing config aimed at a loopback receiver, and the
local server running for real (uvicorn on a loopback port) in a background thread."""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from alertrouter.app import App
from alertrouter.build import dispatcher_for
from alertrouter.config.load import loads
from alertrouter.http.server import create_app

# Templates render with StrictUndefined in tests: a template naming a field that is not there fails
# the test instead of rendering an empty string.
os.environ["ALERTROUTER_STRICT_TEMPLATES"] = "1"

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# Every role reaches one webhook channel on the receiver; one route catches everything.
CAPTURE_CONFIG = """
version: 1
channels:
  capture:
    type: webhook
    url: ${CAPTURE_URL}
    headers:
      X-Test: capture
roles:
  everyone:
    channels: [capture]
routes:
  - name: all
    match: {}
    roles: [everyone]
"""


@functools.lru_cache(maxsize=1)
def indexed_functions() -> dict:
    """function_app indexed once, as the Functions worker does (get_functions() works once per app)."""
    import azure.functions as func

    import function_app

    registers = [v for v in vars(function_app).values() if isinstance(v, func.FunctionApp)]
    assert len(registers) == 1, "the worker needs exactly one FunctionApp at module level"
    return {f.get_function_name(): f for f in registers[0].get_functions()}


def fixture_files() -> list[Path]:
    """Every whole payload fixture (not the expected-response files, nor the alertContext-only
    fragments under monitor/alertcontext/, which tests/inbound/test_alert_contexts.py wraps)."""
    return sorted(p for p in FIXTURES.rglob("*.json")
                  if ".response." not in p.name and p.parent.name != "alertcontext")


def load_fixture(name: str):
    return json.loads(next(FIXTURES.rglob(name)).read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningServer:
    """The local server with its dispatcher, on a loopback port, in a background thread."""

    def __init__(self, app: App, auth=None, console=None, **dispatcher_options):
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        options = {"lease_seconds": 5.0, "workers": 4, **dispatcher_options}
        self.dispatcher = dispatcher_for(app, **options)
        config = uvicorn.Config(create_app(app, self.dispatcher, auth=auth, console=console), host="127.0.0.1", port=self.port,
                                log_level="warning", http="httptools", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "RunningServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("local server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def receiver():
    """A threaded loopback HTTP receiver of this test's own (slow handlers do not block others,
    and nothing leaks into the next test)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def capture_app(tmp_path, httpserver, monkeypatch):
    """An App whose only channel posts to the loopback receiver (pytest-httpserver)."""
    monkeypatch.setenv("CAPTURE_URL", httpserver.url_for("/hook?sig=s3cr3t-signature"))
    httpserver.expect_request("/hook").respond_with_data("", status=202)
    loaded = loads(CAPTURE_CONFIG, "capture.yaml")
    return App(loaded, tmp_path / "data")


@pytest.fixture
def functions_env(tmp_path, httpserver, monkeypatch):
    """handlers._runtime (the Functions side) built on CAPTURE_CONFIG in a temporary data dir,
    delivering to the loopback receiver."""
    from handlers import _runtime

    cfg = tmp_path / "routing.yaml"
    cfg.write_text(CAPTURE_CONFIG)
    monkeypatch.setenv("ALERTROUTER_CONFIG", str(cfg))
    monkeypatch.setenv("ALERTROUTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CAPTURE_URL", httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data("", status=202)
    _runtime.reset()
    yield _runtime
    _runtime.reset()


@pytest.fixture
def server(capture_app):
    with RunningServer(capture_app) as s:
        yield s


class Clock:
    """A clock for App and Dispatcher that a test sets."""

    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def distinct_alerts(n: int):
    """n distinct alerts (distinct alert ids) from the real metric fixture."""
    from alertrouter.inbound import parse_payload

    out = []
    for i in range(n):
        payload = load_fixture("monitor-metric-static-fired.test-action.json")
        payload["data"]["essentials"]["alertId"] += f"-{i}"
        out.extend(parse_payload(payload).events)
    return out


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


def captured(httpserver, expect: int | None = None, timeout: float = 10.0) -> list[dict]:
    """JSON bodies the receiver got; with `expect`, first wait until that many arrived (delivery is
    asynchronous), then a moment longer to catch any extra one."""
    if expect is not None:
        wait_until(lambda: len(httpserver.log) >= expect, timeout, f"{expect} deliveries")
        if expect == 0:
            time.sleep(0.2)
    return [json.loads(req.get_data()) for req, _ in httpserver.log]
