"""alertrouter.build on the Azure store (Azurite): the Functions host's intake enqueues each
notification for the queue trigger instead of sending it, and a retry is enqueued again, for when
it is due; the local server on the same store wakes its own loop and enqueues nothing."""

from __future__ import annotations

import base64

from azure.storage.queue import QueueClient

from alertrouter.build import FUNCTIONS, SERVER, build
from alertrouter.settings import DispatchSettings, Settings
from tests.conftest import CAPTURE_CONFIG, captured, distinct_alerts


def _queued(azure_settings) -> list[list[str]]:
    """The messages visible on the queue now (read and left there for a second), each as the
    notification ids it names, one a line."""
    plain = QueueClient.from_connection_string(azure_settings.connection_string, azure_settings.queue_name)
    try:
        return sorted(base64.b64decode(m.content).decode().split("\n")
                      for m in plain.receive_messages(max_messages=32, visibility_timeout=1))
    finally:
        plain.close()


def _build(host, azure_settings, tmp_path, monkeypatch, httpserver, status: int):
    monkeypatch.setenv("CAPTURE_URL", httpserver.url_for("/hook"))
    httpserver.expect_request("/hook").respond_with_data("", status=status)
    (tmp_path / "routing.yaml").write_text(CAPTURE_CONFIG)
    s = Settings(_env_file=None, store="azure", azure=azure_settings, dispatch=DispatchSettings(workers=1))
    return build(s, host, root=tmp_path)


def test_functions_intake_enqueues_and_sends_nothing(azure_settings, tmp_path, monkeypatch, httpserver):
    built = _build(FUNCTIONS, azure_settings, tmp_path, monkeypatch, httpserver, 202)
    try:
        result = built.app.ingest(distinct_alerts(2))
        ids = sorted(n.id for n in result.notifications)
        assert [sorted(m) for m in _queued(azure_settings)] == [ids]  # one message names an intake's notifications
        assert captured(httpserver, 0) == []
        assert built.dispatcher.run_once(ids) == 2  # what the queue trigger does with them
        assert len(captured(httpserver, 2)) == 2
    finally:
        built.app.store.close()


def test_functions_retry_is_enqueued_again_for_when_it_is_due(azure_settings, tmp_path, monkeypatch, httpserver):
    built = _build(FUNCTIONS, azure_settings, tmp_path, monkeypatch, httpserver, 503)
    try:
        [n] = built.app.ingest(distinct_alerts(1)).notifications
        assert _queued(azure_settings) == [[n.id]]
        assert built.dispatcher.run_once([n.id]) == 1  # 503: a retry is scheduled
        stored = built.app.store.get(n.id)
        assert (stored.status, stored.attempts) == ("pending", 1)
        plain = QueueClient.from_connection_string(azure_settings.connection_string, azure_settings.queue_name)
        try:  # the first message (invisible for a second after the read above) and the retry's, delayed
            assert plain.get_queue_properties().approximate_message_count == 2
        finally:
            plain.close()
    finally:
        built.app.store.close()


def test_server_on_the_azure_store_enqueues_nothing(azure_settings, tmp_path, monkeypatch, httpserver):
    built = _build(SERVER, azure_settings, tmp_path, monkeypatch, httpserver, 202)
    try:
        built.app.ingest(distinct_alerts(1))
        assert _queued(azure_settings) == []  # its own loop sends (woken by intake); no queue trigger here
    finally:
        built.dispatcher.stop(5)
        built.app.store.close()
