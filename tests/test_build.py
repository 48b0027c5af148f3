"""alertrouter.build: one function builds the app for the Functions host, `serve` and the delivery
process; each host gets the store, the dispatcher options, the templates and the delivery wiring
its settings and its kind say, with real stores and a loopback receiver."""

from __future__ import annotations

import logging
import time

import pytest

from alertrouter.build import DELIVERY, FUNCTIONS, SERVER, build
from alertrouter.config.load import loads
from alertrouter.http.api import Request
from alertrouter.settings import DispatchSettings, Settings
from tests.conftest import CAPTURE_CONFIG, captured, distinct_alerts, wait_until

HOSTS = [FUNCTIONS, SERVER, DELIVERY]


@pytest.fixture
def env(tmp_path, httpserver, monkeypatch):
    """routing.yaml in an app root aimed at the loopback receiver."""
    monkeypatch.setenv("CAPTURE_URL", httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data("", status=202)
    (tmp_path / "routing.yaml").write_text(CAPTURE_CONFIG)
    return tmp_path


def settings(**values) -> Settings:
    return Settings(_env_file=None, **values)


def stop(built) -> None:
    built.dispatcher.stop(5)
    built.app.store.close()


@pytest.mark.parametrize("host", HOSTS)
def test_every_host_takes_its_paths_store_and_dispatch_options_from_the_settings(env, host):
    s = settings(data_dir="d", dispatch=DispatchSettings(lease_seconds=12, batch=7, workers=1, linger_ms=40))
    built = build(s, host, root=env)
    try:
        assert built.app.loaded.path == str(env / "routing.yaml")  # relative to the root
        assert built.app.data_dir == env / "d"
        assert (env / "d" / "alertrouter.db").exists()  # store.open_store: SQLite in the data dir
        d = built.dispatcher
        assert (d.lease_seconds, d.batch, d.linger) == (12, 7, 0.04)  # linger on every host alike
    finally:
        stop(built)


@pytest.mark.parametrize("host", HOSTS)
def test_every_host_renders_with_the_settings_template_folder(env, host):
    folder = env / "tpl" / "webhook"
    folder.mkdir(parents=True)
    (folder / "_default.text.j2").write_text("from the settings' folder: {{ title }}")
    built = build(settings(templates=str(env / "tpl")), host, root=env)
    try:
        [event] = distinct_alerts(1)
        [target] = built.app.router.route(event).targets
        msg = built.app.render(event, target, built.app.channels[target.channel])
        assert msg.parts["text"] == f"from the settings' folder: {event.title}"
    finally:
        stop(built)


def test_functions_with_sqlite_delivers_right_after_intake(env, httpserver):
    built = build(settings(), FUNCTIONS, root=env)
    try:
        result = built.app.ingest(distinct_alerts(2))
        assert len(captured(httpserver)) == 2  # sent within the intake call: no loop runs on Functions
        assert {built.app.store.get(n.id).status for n in result.notifications} == {"sent"}
    finally:
        stop(built)


def test_functions_leaves_the_key_to_the_host_and_keeps_the_console_closed(env):
    built = build(settings(api_key="k3y-0123456789abcdef"), FUNCTIONS, root=env)
    try:
        # the host checks function keys (auth level FUNCTION): a call it let in needs no key here
        assert built.auth.check(Request("POST", "/api/alerts", {})).ok
        page = built.console.dispatch(Request("GET", "/api/console/", {}))
        assert page.status in (401, 403)  # never open, whoever asks
    finally:
        stop(built)


def test_server_intake_wakes_the_dispatcher_loop(env, httpserver):
    built = build(settings(), SERVER, loaded=loads(CAPTURE_CONFIG, str(env / "routing.yaml")), data_dir=env / "d")
    built.dispatcher.start(poll_seconds=30)  # it would sleep 30 s between polls unless woken
    try:
        time.sleep(0.2)  # its first pass found nothing: now it sleeps
        started = time.monotonic()
        built.app.ingest(distinct_alerts(1))
        captured(httpserver, 1, timeout=5)
        assert time.monotonic() - started < 5
    finally:
        stop(built)


def test_server_key_applies_and_loopback_console_reads_are_open(env):
    built = build(settings(api_key="k3y-0123456789abcdef"), SERVER, root=env, bind="127.0.0.1")
    try:
        assert built.auth.check(Request("POST", "/api/alerts", {})).status == 401
        assert built.console.dispatch(Request("GET", "/", {})).status == 200
    finally:
        stop(built)


def test_delivery_process_neither_listens_nor_reports_templates_again(env, httpserver, caplog):
    (env / "tpl" / "webhook").mkdir(parents=True)
    (env / "tpl" / "webhook" / "_default.text.j2").write_text("{{ broken")
    for host in (SERVER, DELIVERY):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            built = build(settings(templates=str(env / "tpl")), host, root=env)
        reported = any("_default.text.j2" in r.getMessage() for r in caplog.records)
        assert reported == (host == SERVER)  # the server reported it at start-up; its delivery process does not
        if host == DELIVERY:
            assert (built.auth, built.console) == (None, None)
            built.app.ingest(distinct_alerts(1))
            assert captured(httpserver, 0) == []  # nothing delivers until its loop is woken through the pipe
            assert built.dispatcher.run_once() == 1
            wait_until(lambda: len(httpserver.log) == 1, what="the delivery")
        stop(built)
