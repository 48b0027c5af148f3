"""The storage clients' urllib3 transport (alertrouter/store/azure/transport.py), on loopback: TLS
checked against the bundle it is given, the SDK's error types for a refused connection and a
read timeout (what the SDK's retry policy acts on), connections kept and re-opened, both of
azure-core's request kinds, and what it leaves to the requests transport. Every Azure store test
on Azurite also goes through it (tables._transport)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseTimeoutError
from azure.core.pipeline.transport import HttpRequest as LegacyRequest
from azure.core.rest import HttpRequest
from werkzeug import Response

from alertrouter.store.azure.transport import Urllib3Transport
from tests.channels.conftest import https_httpserver, tls_files  # noqa: F401  HTTPS on loopback
from tests.conftest import free_port


def test_tls_is_checked_against_the_bundle_given_and_by_default_against_requests_bundle(https_httpserver,
                                                                                          tls_files):
    https_httpserver.expect_request("/Tables", method="POST").respond_with_json({"TableName": "t"}, status=201)
    url = https_httpserver.url_for("/Tables")
    trusting = Urllib3Transport(connection_verify=str(tls_files.cert))
    answer = trusting.send(HttpRequest("POST", url, content=b'{"TableName":"t"}',
                                       headers={"Content-Type": "application/json"}))
    assert answer.status_code == 201 and answer.json() == {"TableName": "t"}
    assert answer.headers["content-type"] == answer.headers["Content-Type"] == "application/json"
    trusting.close()
    default = Urllib3Transport()  # certifi's bundle, as requests: the test certificate is not in it
    with pytest.raises(ServiceRequestError, match="CERTIFICATE_VERIFY_FAILED"):
        default.send(HttpRequest("POST", url, content=b"{}"))
    default.close()
    https_httpserver.clear()


def test_a_refused_connection_and_a_read_timeout_raise_what_the_sdk_retries_on(httpserver):
    transport = Urllib3Transport()
    with pytest.raises(ServiceRequestError):
        transport.send(HttpRequest("GET", f"http://127.0.0.1:{free_port()}/x"))

    def slow(_request):
        time.sleep(1.0)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(ServiceResponseTimeoutError):
        transport.send(HttpRequest("GET", httpserver.url_for("/slow")), read_timeout=0.2)
    transport.close()


def test_a_kept_connection_closed_by_the_server_is_opened_again():
    """The server answers one request per connection and closes it after a keep-alive answer: the
    next request on the pool finds it closed and opens another."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen = []

    def serve():
        for _ in range(3):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                seen.append(data.split(b"\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok")
                time.sleep(0.05)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    transport = Urllib3Transport()
    for i in range(3):
        answer = transport.send(HttpRequest("GET", f"http://127.0.0.1:{port}/r{i}"))
        assert (answer.status_code, answer.text()) == (200, "ok")
        time.sleep(0.1)
    worker.join(5)
    listener.close()
    transport.close()
    assert seen == [f"GET /r{i} HTTP/1.1".encode() for i in range(3)]


def test_legacy_requests_get_legacy_answers_and_a_bodiless_write_says_its_length(httpserver):
    httpserver.expect_request("/q", method="DELETE").respond_with_data("", status=204)
    httpserver.expect_request("/q", method="PUT").respond_with_data("<x/>", status=201,
                                                                     content_type="application/xml")
    transport = Urllib3Transport()
    answer = transport.send(LegacyRequest("DELETE", httpserver.url_for("/q")))
    assert answer.status_code == 204 and answer.body() == b""
    answer = transport.send(LegacyRequest("PUT", httpserver.url_for("/q")))
    assert answer.status_code == 201 and answer.text() == "<x/>"
    assert [r.headers.get("Content-Length") for r, _ in httpserver.log if r.path == "/q"] == ["0", "0"]
    transport.close()


def test_what_it_does_not_handle_goes_to_the_requests_transport(httpserver):
    """A streamed download is the requests transport's, unchanged (its session made on first use)."""
    httpserver.expect_request("/blob").respond_with_data(b"x" * 100_000)
    transport = Urllib3Transport()
    answer = transport.send(HttpRequest("GET", httpserver.url_for("/blob")), stream=True)
    assert transport.session is not None and transport.session.trust_env is False
    assert b"".join(answer.iter_bytes()) == b"x" * 100_000
    transport.close()
