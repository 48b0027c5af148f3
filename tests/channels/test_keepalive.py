"""The deliveries' keep-alive HTTP client against real loopback servers: TLS verified against the CA
bundle, idle connections the server closed, answers framed every way HTTP allows, a trickling
server, and headers that cannot be sent."""

from __future__ import annotations

import datetime as dt
import http.server
import socket
import ssl
import threading
import time
from contextlib import contextmanager

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alertrouter.channels.base import post_json
from alertrouter.channels.transport import KeepAlive, make_session


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    mode = "plain"
    peers: list = []

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).peers.append(self.client_address[1])
        if self.mode == "chunked":
            self.send_response(202)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"5\r\nhello\r\n0\r\n\r\n")
        elif self.mode == "until-close":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"the end is the end of the connection")
            self.close_connection = True
        elif self.mode == "close-after":
            self.send_response(204)
            self.end_headers()
            self.close_connection = True  # keep-alive refused without saying so
        else:
            self.send_response(204)
            self.end_headers()

    def log_message(self, *args):
        pass


@contextmanager
def serve(mode: str = "plain", tls: ssl.SSLContext | None = None):
    handler = type("H", (Handler,), {"mode": mode, "peers": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port, handler.peers
    finally:
        server.shutdown()
        server.server_close()


def send(url: str, session=None, timeout: float = 5.0, **headers):
    return post_json(session or make_session(), url, b"{}", headers, timeout, "hook")


@pytest.mark.parametrize("mode", ["plain", "chunked", "until-close", "close-after"])
def test_every_answer_framing_is_read_and_the_next_post_still_goes(mode):
    session = make_session()
    with serve(mode) as (port, peers):
        results = [send(f"http://127.0.0.1:{port}/hook", session) for _ in range(3)]
    assert [r.status for r in results] == ["delivered"] * 3
    assert len(peers) == 3
    if mode in ("plain", "chunked"):
        assert len(set(peers)) == 1  # kept alive
    else:
        assert len(set(peers)) == 3  # the server closed each one: a new connection each time


def test_an_idle_connection_the_server_closed_is_not_reused():
    session = make_session()
    with serve() as (port, peers):
        assert send(f"http://127.0.0.1:{port}/hook", session).status == "delivered"
        client = session._alertrouter_client
        [[idle]] = client._idle.values()
        idle.shutdown(socket.SHUT_WR)  # as if the server had closed it: the peer sees EOF and closes
        time.sleep(0.2)
        assert send(f"http://127.0.0.1:{port}/hook", session).status == "delivered"
    assert len(peers) == 2


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    return cert_path, ctx


def test_tls_is_verified_against_the_ca_bundle(tmp_path, monkeypatch):
    cert, ctx = _self_signed(tmp_path)
    with serve(tls=ctx) as (port, peers):
        untrusted = send(f"https://localhost:{port}/hook?sig=s3cret")
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        trusted = [send(f"https://localhost:{port}/hook?sig=s3cret", make_session()) for _ in range(1)]
        wrong_name = send(f"https://127.0.0.1:{port}/hook?sig=s3cret", make_session())
    assert (untrusted.status, untrusted.detail) == ("retry", "hook: connection failed")
    assert [r.status for r in trusted] == ["delivered"]
    assert wrong_name.status == "retry" and "s3cret" not in wrong_name.detail
    assert len(peers) == 1


def test_a_trickling_server_times_out_on_the_whole_answer():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def trickle():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.is_set():  # one header byte every 50 ms: each read is quick, the answer never ends
            try:
                conn.sendall(b"X")
            except OSError:
                break
            time.sleep(0.05)
        conn.close()

    threading.Thread(target=trickle, daemon=True).start()
    started = time.monotonic()
    result = send(f"http://127.0.0.1:{port}/hook", timeout=0.4)
    took = time.monotonic() - started
    stop.set()
    listener.close()
    assert (result.status, result.detail) == ("retry", "hook: no answer within 0.4 s")
    assert took < 5


@pytest.mark.parametrize("headers", [{"X-Bad": "a\r\nInjected: yes"}, {"Bad Name": "x"}])
def test_headers_http_cannot_carry_are_refused(headers):
    with serve() as (port, peers):
        result = post_json(make_session(), f"http://127.0.0.1:{port}/hook", b"{}", headers, 5, "hook")
    assert (result.status, result.detail) == ("failed", "hook: request error (ValueError)")
    assert peers == []


def test_the_client_is_made_once_per_session_and_closes():
    session = make_session("alertrouter/test")
    with serve() as (port, _):
        send(f"http://127.0.0.1:{port}/hook", session)
    client = session._alertrouter_client
    assert isinstance(client, KeepAlive) and client.user_agent == "alertrouter/test"
    client.close()
    assert client._idle == {}
    assert isinstance(session, requests.Session)
