"""A refused delivery keeps what the receiver answered: loopback receivers answer 400 with a body
that echoes what they were sent (the webhook URL with its token, the Teams `sig=`, the PagerDuty
routing key, a header's bearer token), and the attempt's detail keeps the status and the body's
first 500 bytes with every secret masked and control characters escaped."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote

from werkzeug import Request, Response

from alertrouter.channels.answer import EXCERPT_BYTES, answer_secrets, excerpt
from tests.channels import METRIC_FIRED, assert_no_secret, event, render
from tests.channels.test_pagerduty import ENQUEUE, KEY, pagerduty
from tests.channels.test_teams import PATH as TEAMS_PATH
from tests.channels.test_teams import SIG, teams
from tests.channels.test_webhook import PATH, SECRET, TOKEN, webhook


def echo(request: Request) -> Response:
    """What a careless receiver answers: its complaint, then everything it was sent, in several spellings."""
    url = request.url
    body = json.dumps({"error": "unknown field 'data.labels'", "url": url,
                       "auth": request.headers.get("Authorization", ""), "sent": request.get_data(as_text=True)})
    return Response(f"Bad request\r\n\x1b[31m{body} raw={url} encoded={quote(url, safe='')}", status=400,
                    content_type="application/json")


def test_a_webhook_refusal_keeps_the_answer_with_secrets_masked(httpserver, tmp_path, caplog):
    httpserver.expect_request(PATH).respond_with_handler(echo)
    channel = webhook(httpserver.url_for(f"{PATH}?token={TOKEN}"), tmp_path, Authorization=f"Bearer {TOKEN}")
    with caplog.at_level(logging.DEBUG):
        result = channel.send(render(channel, event(METRIC_FIRED)))
    assert result.status == "failed"
    assert result.detail.startswith("webhook hook: HTTP 400: Bad request\\r\\n\\x1b[31m{\"error\": \"unknown field")
    detail = result.detail.removeprefix("webhook hook: HTTP 400: ")
    assert "\n" not in detail and "\r" not in detail and "\x1b" not in detail  # escaped: one line, no terminal codes
    assert '"auth": "<redacted>"' in detail and "<redacted>" in detail.split('"url": "')[1][:120]
    assert detail.endswith(" …")  # the first 500 bytes; the three escapes above add 5 characters
    assert len(detail.removesuffix(" …").encode()) <= EXCERPT_BYTES + 5
    assert_no_secret(result, caplog, [TOKEN, quote(TOKEN, safe=""), SECRET, SECRET.removeprefix("whsec_")])


def test_a_teams_refusal_masks_the_workflow_signature(httpserver, tmp_path, caplog):
    httpserver.expect_request(TEAMS_PATH).respond_with_handler(echo)
    channel = teams(httpserver.url_for(f"{TEAMS_PATH}?api-version=2016-06-01&sig={SIG}"), tmp_path)
    with caplog.at_level(logging.DEBUG):
        result = channel.send(render(channel, event(METRIC_FIRED)))
    assert result.status == "failed" and result.detail.startswith("teams team-se: HTTP 400: Bad request")
    assert "unknown field" in result.detail and "<redacted>" in result.detail
    assert_no_secret(result, caplog, [SIG, quote(SIG, safe="")])


def test_a_pagerduty_refusal_masks_the_routing_key_it_echoes(httpserver, tmp_path, caplog):
    httpserver.expect_request(ENQUEUE).respond_with_handler(
        lambda req: Response(json.dumps({"status": "invalid event", "message": "Event object is invalid",
                                         "errors": [f"routing_key {req.get_json()['routing_key']} is unknown"]}),
                             status=400, content_type="application/json"))
    channel = pagerduty(httpserver.url_for(ENQUEUE), tmp_path)
    with caplog.at_level(logging.DEBUG):
        result = channel.send(render(channel, event(METRIC_FIRED)))
    assert result.detail == ('pagerduty pd-se: HTTP 400: {"status": "invalid event", "message": "Event object is '
                             'invalid", "errors": ["routing_key <redacted> is unknown"]}')
    assert_no_secret(result, caplog, [KEY])


def test_a_retried_answer_keeps_its_body_and_an_empty_one_adds_nothing(httpserver, tmp_path):
    httpserver.expect_request(PATH).respond_with_data("upstream busy", status=503, headers={"Retry-After": "7"})
    channel = webhook(httpserver.url_for(f"{PATH}?token={TOKEN}"), tmp_path)
    busy = channel.send(render(channel, event(METRIC_FIRED)))
    assert (busy.status, busy.detail, busy.retry_after) == ("retry", "webhook hook: HTTP 503: upstream busy", 7.0)
    httpserver.clear()
    httpserver.expect_request(PATH).respond_with_data("", status=404)
    assert channel.send(render(channel, event(METRIC_FIRED))).detail == "webhook hook: HTTP 404"
    httpserver.clear()
    httpserver.expect_request(PATH).respond_with_data("accepted, thanks", status=200)
    assert channel.send(render(channel, event(METRIC_FIRED))).detail == "webhook hook: HTTP 200"


def test_a_secret_across_the_cut_leaves_no_prefix():
    secret = "s3cr3t-value-0123456789"
    body = ("x" * (EXCERPT_BYTES - 6) + " " + secret + " " + "é" * 300).encode()  # a whole value, not inside a word
    shown = excerpt(body, answer_secrets("https://hook.example/in", [secret]))
    assert "s3cr3" not in shown
    assert shown == "x" * (EXCERPT_BYTES - 6) + " <reda …"
    cut = excerpt(("a" * (EXCERPT_BYTES - 1) + "é").encode(), [])  # a character cut in two is dropped, not mangled
    assert cut == "a" * (EXCERPT_BYTES - 1) + " …"
    assert excerpt("é".encode() * 3 + "é".encode()[:1], []) == "ééé"  # the 4 KB kept may end mid-character
    assert excerpt(b"see https://x.example/p?code=abc and Bearer abc.def", []) == \
        "see https://x.example/p?code=<redacted> and Bearer <redacted>"


def test_an_answer_is_masked_as_the_console_masks_it():
    """Whole configured values only (a placeholder secret `s` eats no letters), links keep their
    query, a secret-named parameter and a credential are masked, short query values of the URL
    posted to are not secrets."""
    url = "https://hook.example/in?api-version=1&sig=Zx81Kq0-long-signature"
    body = (b'{"error": "runs s failed", "see": "https://ml.azure.com/runs/r1?wsid=/subscriptions/x&tid=t",'
            b' "echo": "Zx81Kq0-long-signature", "api-version": "1", "auth": "Bearer abc.def"}')
    assert excerpt(body, answer_secrets(url, ["s"])) == (
        '{"error": "runs <redacted> failed", "see": "https://ml.azure.com/runs/r1?wsid=/subscriptions/x&tid=t",'
        ' "echo": "<redacted>", "api-version": "1", "auth": "Bearer <redacted>"}')
