"""The generic webhook against a loopback receiver: the `{type, timestamp, data}` body, extra headers,
and Standard Webhooks signatures checked by the independent `standardwebhooks` library."""

from __future__ import annotations

import base64
import http.server
import json
import threading
import time
from datetime import datetime, timezone

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.transport import make_session
from alertrouter.channels.webhook import WebhookChannel, WebhookSender, signature
from tests.channels import (METRIC_FIRED, RUN_COMPLETED, RUN_FAILED, SIX, event, event_fixtures,
                            hidden_from_restricted, render)

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
TOKEN = "t0ken-0123456789abcdef"
PATH = "/hooks/in"


def webhook(url: str, tmp_path, secret: str = SECRET, timeout: float = 5.0, **headers) -> WebhookSender:
    cfg = WebhookChannel(type="webhook", url=url, signing_secret=secret, timeout_seconds=timeout,
                         headers={"X-Team": "se", **headers})
    return WebhookSender("hook", cfg, ChannelContext(session=make_session(), data_dir=tmp_path))


@pytest.fixture
def channel(httpserver, tmp_path):
    httpserver.expect_request(PATH, method="POST").respond_with_data("", status=204)
    return webhook(httpserver.url_for(f"{PATH}?token={TOKEN}"), tmp_path)


def received(httpserver) -> list[tuple[bytes, dict[str, str]]]:
    return [(req.get_data(), {k.lower(): v for k, v in req.headers.items()}) for req, _ in httpserver.log
            if req.path == PATH]


@pytest.mark.parametrize("fixture", SIX)
def test_signed_body_verifies_with_the_reference_library(fixture, channel, httpserver):
    ev = event(fixture)
    msg = render(channel, ev, notification_id="n_abc123")
    before = int(time.time())
    result = channel.send(msg)
    assert (result.status, result.detail) == ("delivered", "webhook hook: HTTP 204")
    [(body, headers)] = received(httpserver)
    assert headers["webhook-id"] == "n_abc123"
    assert before <= int(headers["webhook-timestamp"]) <= int(time.time())
    assert headers["webhook-signature"].startswith("v1,")
    assert headers["x-team"] == "se" and headers["content-type"] == "application/json"
    data = Webhook(SECRET).verify(body, headers)
    assert data["type"] == ev.kind and data["data"]["notification_id"] == "n_abc123"
    assert data["data"]["title"] == ev.title and data["data"]["text"] == msg.text
    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER).verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # a changed body no longer verifies
        Webhook(SECRET).verify(body.replace(b'"type"', b'"Type"'), headers)


def test_webhook_id_is_stable_across_retries_and_each_attempt_is_signed(httpserver, tmp_path):
    httpserver.expect_ordered_request(PATH).respond_with_data("", status=503, headers={"Retry-After": "1"})
    httpserver.expect_ordered_request(PATH).respond_with_data("", status=200)
    channel = webhook(httpserver.url_for(PATH), tmp_path)
    msg = render(channel, event(RUN_FAILED), notification_id="n_retry")
    assert channel.send(msg).status == "retry"
    assert channel.send(msg).status == "delivered"
    (b1, h1), (b2, h2) = received(httpserver)
    assert h1["webhook-id"] == h2["webhook-id"] == "n_retry"
    for body, headers in ((b1, h1), (b2, h2)):
        Webhook(SECRET).verify(body, headers)


def test_signature_matches_the_library_for_a_fixed_timestamp():
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    body = b'{"type": "alert.fired", "data": {"x": "\\u00e9"}}'
    ts = 1_700_000_000
    assert signature([key], "n_1", ts, body) == Webhook(SECRET).sign(
        "n_1", datetime.fromtimestamp(ts, tz=timezone.utc), body.decode())


def test_two_secrets_give_two_signatures_for_rotation(httpserver, tmp_path):
    httpserver.expect_request(PATH).respond_with_data("", status=200)
    channel = webhook(httpserver.url_for(PATH), tmp_path, secret=f"{SECRET} {OTHER}")
    channel.send(render(channel, event(METRIC_FIRED)))
    [(body, headers)] = received(httpserver)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(SECRET).verify(body, headers)
    Webhook(OTHER).verify(body, headers)


def test_secret_from_the_environment(httpserver, tmp_path, monkeypatch):
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    httpserver.expect_request(PATH).respond_with_data("", status=200)
    channel = webhook(httpserver.url_for(PATH), tmp_path, secret="${HOOK_SECRET}")
    channel.send(render(channel, event(METRIC_FIRED)))
    [(body, headers)] = received(httpserver)
    Webhook(SECRET).verify(body, headers)
    assert SECRET in channel.secret_values()


def test_without_a_secret_the_post_is_unsigned(httpserver, tmp_path, monkeypatch):
    monkeypatch.delenv("UNSET_SECRET", raising=False)
    httpserver.expect_request(PATH).respond_with_data("", status=200)
    for secret in ("", "${UNSET_SECRET}"):
        channel = webhook(httpserver.url_for(PATH), tmp_path, secret=secret)
        assert channel.send(render(channel, event(METRIC_FIRED))).status == "delivered"
    for body, headers in received(httpserver):
        assert not any(k.startswith("webhook-") for k in headers)
        assert json.loads(body)["type"] == "alert.fired"


@pytest.mark.parametrize("secret,message", [
    ("not-a-secret-at-all", "webhook hook: signing_secret must look like whsec_<base64>"),
    ("whsec_!!!not*base64!!!", "webhook hook: signing_secret: the part after whsec_ is not valid base64"),
    ("whsec_" + base64.b64encode(b"short").decode(), "webhook hook: signing_secret decodes to 5 bytes; use 24–64"),
    (f"{SECRET} whsec_", "webhook hook: signing_secret #2 decodes to 0 bytes"),
])
def test_bad_secrets_are_refused_without_echoing_them(secret, message, tmp_path):
    with pytest.raises(ValueError) as info:
        webhook("http://127.0.0.1:9/x", tmp_path, secret=secret)
    assert str(info.value).startswith(message)
    for piece in secret.split():
        assert piece.removeprefix("whsec_") not in str(info.value) or piece == "whsec_"


def test_unpadded_secret_is_accepted(httpserver, tmp_path):
    unpadded = "whsec_" + base64.b64encode(b"twenty-five-bytes-secret!").decode().rstrip("=")
    httpserver.expect_request(PATH).respond_with_data("", status=200)
    channel = webhook(httpserver.url_for(PATH), tmp_path, secret=unpadded)
    channel.send(render(channel, event(METRIC_FIRED)))
    [(body, headers)] = received(httpserver)
    Webhook(unpadded).verify(body, headers)


def test_a_restricted_role_gets_no_links_or_details(channel, httpserver):
    ev = event(RUN_COMPLETED)
    channel.send(render(channel, ev, visibility="restricted", role="qa"))
    [(body, _)] = received(httpserver)
    data = json.loads(body)["data"]
    assert (data["links"], data["details"], data["visibility"]) == ({}, {}, "restricted")
    assert "ml.azure.com" not in body.decode() and "LassoLars" not in body.decode()


@pytest.mark.parametrize("fixture", event_fixtures())
def test_restricted_rendering_of_every_fixture_leaks_no_links_or_details(fixture, channel, httpserver):
    ev = event(fixture)
    channel.send(render(channel, ev, visibility="restricted", role="qa"))
    [(body, _)] = received(httpserver)
    text = body.decode()
    # the body carries the view's id and fingerprint (which name the resource), so labels are not checked
    for hidden in hidden_from_restricted(ev, labels=False):
        assert json.dumps(hidden)[1:-1] not in text


def test_keep_alive_pool_reuses_one_connection(tmp_path):
    """Deliveries go through one keep-alive connection per host, not one connection per POST."""
    peers = []

    class KeepAlive(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            peers.append(self.client_address[1])
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        channel = webhook(f"http://127.0.0.1:{server.server_port}{PATH}", tmp_path)
        results = [channel.send(render(channel, event(METRIC_FIRED))) for _ in range(5)]
    finally:
        server.shutdown()
    assert [r.status for r in results] == ["delivered"] * 5
    assert len(peers) == 5 and len(set(peers)) == 1, peers


def test_a_proxy_from_the_environment_is_used(httpserver, tmp_path, monkeypatch):
    """A host the environment sends through a proxy is posted to through it (the loopback server plays
    the proxy; the target host does not resolve, so a delivery proves the proxy was used)."""
    httpserver.expect_request(PATH, method="POST").respond_with_data("", status=202)
    monkeypatch.setenv("HTTP_PROXY", httpserver.url_for("/").rstrip("/"))
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    channel = webhook(f"http://hooks.example.invalid{PATH}?token={TOKEN}", tmp_path)
    result = channel.send(render(channel, event(METRIC_FIRED)))
    assert (result.status, result.detail) == ("delivered", "webhook hook: HTTP 202")
