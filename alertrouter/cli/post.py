"""Posting to a running router the way Azure does, for `alertrouter send` and `alertrouter demo`: the
endpoint under a base URL (keeping a Functions `?code=`), the path and headers Event Grid or an Action
Group would use for a payload, the key as `x-functions-key`, and errors that never print the key."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit

import click

from ..inbound import envelope

START_IT = ("start it with `make run` (or `alertrouter serve`) in another terminal, or give its address "
            "with --url")


class Unreachable(Exception):
    """No router answered at the URL (the message says where, with the query hidden, and how to fix it)."""


def router_options(command):
    """The running router's `--url` and `--key`, as `send` and `demo` take them."""
    command = click.option("--key", envvar="ALERTROUTER_API_KEY", default=None, show_envvar=True, metavar="KEY",
                           help="function key or ALERTROUTER_API_KEY of the router, sent as the x-functions-key "
                                "header (default: $ALERTROUTER_API_KEY); never printed")(command)
    return click.option("--url", default="http://127.0.0.1:7071", show_default=True,
                        help="router base URL; a Functions URL may carry the key as ?code=KEY (the path goes "
                             "before it)")(command)


def endpoint_url(base: str, path: str) -> str:
    """The router's endpoint `path` under the base URL `base`, keeping its query (a Functions `?code=`) and
    fragment after the path; a base that already ends with the endpoint is used as it is."""
    parts = urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(f"{shown_url(base)} is not an http(s) URL like http://127.0.0.1:7071 or "
                                 "https://APP.azurewebsites.net", param_hint="--url")
    prefix = parts.path.rstrip("/")
    for endpoint in ("/api/eventgrid", "/api/alerts"):
        if prefix.lower().endswith(endpoint):
            if endpoint != path:
                raise click.BadParameter(f"{shown_url(base)} names {endpoint}, but this payload goes to {path}; "
                                         "give the base URL (without /api/...)", param_hint="--url")
            prefix = prefix[:-len(endpoint)]
    return urlunsplit((parts.scheme, parts.netloc, prefix + path, parts.query, parts.fragment))


def shown_url(url: str) -> str:
    """A URL as it may be printed: the query (which may carry `code=`, the function key) left out."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "<query hidden>" if parts.query else "", ""))


def as_azure_sends(obj) -> tuple[str, dict[str, str]]:
    """The endpoint path and headers Azure uses for a decoded payload: Event Grid (its schema or
    CloudEvents, one event or a batch) to /api/eventgrid, anything else (an Action Group's alert) to
    /api/alerts."""
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if not (isinstance(obj, list) or envelope.is_cloudevent(obj) or envelope.is_eventgrid_event(obj)):
        return "/api/alerts", headers
    items = obj if isinstance(obj, list) else [obj]
    if items and all(envelope.is_cloudevent(i) for i in items):
        headers["Content-Type"] = ("application/cloudevents-batch+json; charset=utf-8" if isinstance(obj, list)
                                   else "application/cloudevents+json; charset=utf-8")
    else:
        validation = any(isinstance(i, dict) and str(i.get("eventType", "")).lower() == envelope.VALIDATION_EVENT
                         for i in items)
        headers["aeg-event-type"] = "SubscriptionValidation" if validation else "Notification"
    return "/api/eventgrid", headers


def post(url: str, path: str, body: bytes, headers: dict[str, str], key: str | None, timeout: float = 30):
    """POST `body` to `path` under `url`, with the key (if any) as x-functions-key; the response, or
    Unreachable when nothing answers."""
    import requests

    if key:
        headers = {**headers, "x-functions-key": key.strip()}
    try:
        return requests.post(endpoint_url(url, path), data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise Unreachable(f"cannot reach the router at {shown_url(url)} ({type(exc).__name__}); is it running? "
                          + START_IT) from None


def answer_text(text: str, key: str | None) -> str:
    """A response body as it may be printed: the key, should the router echo it, replaced."""
    return text.replace(key, "<key>") if key else text


def key_advice(resp, key: str | None, url: str) -> str | None:
    """What to do when the router refused for want of a key (None for any other answer)."""
    if resp.status_code != 401 or "key" not in resp.text:
        return None
    given = "the key given was refused" if key or "code" in parse_qs(urlsplit(url).query) else "no key was given"
    return (f"error: the router wants a key and {given}: pass --key KEY or set ALERTROUTER_API_KEY "
            "(the router's ALERTROUTER_API_KEY, or the function key in Azure)")
