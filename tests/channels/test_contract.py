"""One contract for every HTTP channel kind, against a loopback receiver: 2xx delivered; 400 and
401 permanent; 429 with Retry-After and 500 retried; a timeout (a slow answer or none) and a
refused connection retried; and no secret in any result or log line. The status-code table runs
here only: the kinds' own tests cover what they build."""

from __future__ import annotations

import logging
import time

import pytest
from werkzeug import Response

from alertrouter.channels.base import ChannelContext, DeliveryResult
from alertrouter.channels.transport import make_session
from alertrouter.channels.pagerduty import PagerDutyChannel
from alertrouter.channels.registry import CHANNELS
from alertrouter.channels.teams import TeamsChannel
from alertrouter.channels.webhook import WebhookChannel
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer
from tests.channels import silent_server
from tests.conftest import free_port, load_fixture, wait_until

SECRET = "s3cr3t-0123456789abcdef"
SIGNING = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _webhook(url: str, timeout: float):
    return WebhookChannel(type="webhook", url=f"{url}?token={SECRET}", signing_secret=SIGNING,
                          headers={"Authorization": f"Bearer {SECRET}"}, timeout_seconds=timeout)


def _teams(url: str, timeout: float):
    return TeamsChannel(type="teams", url=f"{url}?api-version=1&sig={SECRET}", timeout_seconds=timeout)


def _pagerduty(url: str, timeout: float):
    return PagerDutyChannel(type="pagerduty", routing_key=SECRET, url=url, timeout_seconds=timeout)


# kind -> config factory for a channel whose one HTTP call goes to `url`
FACTORIES = {"webhook": _webhook, "teams": _teams, "pagerduty": _pagerduty}
NOT_HTTP = {"log": "writes a local file", "smtp": "SMTP, covered by tests/channels/test_email_smtp.py",
            "email": "two HTTP peers (token endpoint and Graph), covered by tests/channels/test_email_graph.py"}
KINDS = sorted(k for k in CHANNELS if k in FACTORIES)


def test_every_registered_kind_is_covered():
    assert sorted(set(CHANNELS) - set(FACTORIES) - set(NOT_HTTP)) == []


def make(kind: str, url: str, tmp_path, timeout: float = 5.0):
    cls = CHANNELS[kind]
    channel = cls(f"test-{kind}", FACTORIES[kind](url, timeout), ChannelContext(make_session(), tmp_path))
    [event] = parse_payload(load_fixture("monitor-metric-static-fired.test-action.json")).events
    msg = Renderer(strict=True).render(event, notification_id="n_contract", route="r", role="se",
                                       channel=channel.name, channel_kind=cls.kind, parts=cls.parts)
    return channel, msg


CASES = [
    (202, {}, "delivered", None),
    (200, {}, "delivered", None),
    (400, {}, "failed", None),
    (401, {}, "failed", None),
    (429, {"Retry-After": "7"}, "retry", 7.0),
    (503, {"Retry-After": "30"}, "retry", 30.0),
    (500, {}, "retry", None),
]


def assert_no_secret(result: DeliveryResult, caplog):
    secrets = (SECRET, SIGNING, SIGNING.removeprefix("whsec_"))
    assert not any(s in result.detail for s in secrets)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    assert not any(s in m for s in secrets for m in ours)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status,headers,outcome,after", CASES)
def test_status_codes(kind, status, headers, outcome, after, httpserver, tmp_path, caplog):
    httpserver.expect_request("/in").respond_with_data("{}", status=status, headers=headers)
    channel, msg = make(kind, httpserver.url_for("/in"), tmp_path)
    with caplog.at_level(logging.DEBUG):
        result = channel.send(msg)
    assert (result.status, result.retry_after) == (outcome, after)
    assert result.detail.startswith(f"{kind} test-{kind}: HTTP {status}")
    assert_no_secret(result, caplog)


@pytest.mark.parametrize("kind", KINDS)
def test_timeout_is_retried(kind, httpserver, tmp_path, caplog):
    def slow(request):
        time.sleep(0.6)
        return Response("{}", status=202)

    httpserver.expect_request("/slow").respond_with_handler(slow)
    channel, msg = make(kind, httpserver.url_for("/slow"), tmp_path, timeout=0.2)
    with caplog.at_level(logging.DEBUG):
        result = channel.send(msg)
    assert (result.status, result.detail) == ("retry", f"{kind} test-{kind}: no answer within 0.2 s")
    assert_no_secret(result, caplog)
    wait_until(lambda: httpserver.log, what="the slow request to finish")  # not into the next test's log


@pytest.mark.parametrize("kind", KINDS)
def test_connection_refused_is_retried(kind, tmp_path, caplog):
    channel, msg = make(kind, f"http://127.0.0.1:{free_port()}/in", tmp_path)
    with caplog.at_level(logging.DEBUG):
        result = channel.send(msg)
    assert (result.status, result.detail) == ("retry", f"{kind} test-{kind}: connection failed")
    assert_no_secret(result, caplog)


@pytest.mark.parametrize("kind", KINDS)
def test_a_server_that_never_answers_is_retried(kind, tmp_path, caplog):
    with caplog.at_level(logging.DEBUG), silent_server() as silent:
        channel, msg = make(kind, f"{silent}/in", tmp_path, timeout=0.1)
        result = channel.send(msg)
    assert (result.status, result.detail) == ("retry", f"{kind} test-{kind}: no answer within 0.1 s")
    assert_no_secret(result, caplog)
