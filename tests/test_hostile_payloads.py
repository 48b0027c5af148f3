"""Every real payload fixture with markup, Markdown links, javascript: URLs and control characters
written into every string field, routed through the shipped routing.yaml to every role (full and
restricted visibility) on every channel kind, rendered and built as the channels send it: nothing
of it leaks (issue 16, items 4 to 7)."""

from __future__ import annotations

import copy
import io
import json
import logging
from contextlib import redirect_stderr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertrouter import logs
from alertrouter.channels.build import build_channels
from alertrouter.channels.registry import CHANNELS
from alertrouter.delivery.notification import render_notification
from alertrouter.config.load import load
from alertrouter.channels.email_smtp import SmtpChannel
from alertrouter.channels.base import ChannelContext
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer
from alertrouter.config.types import Target
from tests.conftest import FIXTURES, ROOT
from tests.hostile import (HOSTILE, URLS, card_texts, card_urls, control_leaks, html_leaks, https_only,
                           markdown_leaks)

ENV = {
    "SE_TEAMS_WEBHOOK_URL": "https://127.0.0.1:9/workflows/se?sig=se-sig",
    "DS_TEAMS_WEBHOOK_URL": "https://127.0.0.1:9/workflows/ds?sig=ds-sig",
    "QA_TEAMS_WEBHOOK_URL": "https://127.0.0.1:9/workflows/qa?sig=qa-sig",
    "PAGERDUTY_ROUTING_KEY": "R0UTINGKEY0123456789abcdef012345",
    "GRAPH_TENANT_ID": "tenant", "GRAPH_CLIENT_ID": "client", "GRAPH_CLIENT_SECRET": "secret",
    "GRAPH_SENDER": "alerts@contoso.com",
    "OPS_WEBHOOK_URL": "https://127.0.0.1:9/ops",
    "OPS_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "QA_EMAIL_TO": "qa@contoso.com", "BA_EMAIL_TO": "ba@contoso.com",
}


def fixture_payloads() -> list[tuple[str, object]]:
    """Every whole payload fixture in tests/fixtures (the same file once)."""
    seen: dict[str, tuple[str, object]] = {}
    for root in [FIXTURES]:
        for p in sorted(root.rglob("*.json")):
            if ".response." in p.name or p.parent.name == "alertcontext" or "subscriptionvalidation" in p.name:
                continue  # responses, fragments and the handshake (answered, never rendered) hold no event
            text = p.read_text(encoding="utf-8")
            seen.setdefault(text, (p.name, json.loads(text)))
    return list(seen.values())


def _events(payload) -> list | None:
    try:
        return parse_payload(payload).events
    except Exception:
        return None


def _leaves(node, path=()):
    if isinstance(node, str):
        yield path
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, (*path, i))


def _get(node, path):
    for k in path:
        node = node[k]
    return node


def _set(node, path, value):
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value


def inject(payload, pick) -> tuple[object, int]:
    """`payload` with hostile text in every string field the adapters still read the same kind of
    event with (a field like `eventType` or `firedDateTime` that then no longer parses, or makes
    another kind of event, keeps its value); `pick(i, original)`
    chooses the new value of the i-th field. Returns the payload and how many fields were changed."""
    base = _events(payload)
    if not base:
        return payload, 0
    kinds = [e.kind for e in base]
    out = copy.deepcopy(payload)
    changed = 0
    for i, path in enumerate(list(_leaves(payload))):
        original = _get(out, path)
        _set(out, path, pick(i, original))
        events = _events(out)
        if events is None or [e.kind for e in events] != kinds:
            _set(out, path, original)
        else:
            changed += 1
    return out, changed


def replace_or_wrap(i: int, original: str) -> str:
    """Links get hostile URLs; other fields hostile text, in place of the value or around it."""
    if original.lower().startswith(("http://", "https://")):
        return URLS[i % len(URLS)]
    bad = HOSTILE[i % len(HOSTILE)]
    return bad if i % 2 else f"{bad}{original}{HOSTILE[(i + 7) % len(HOSTILE)]}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The shipped routing.yaml with every channel configured, one channel of every kind (smtp is
    not in the shipped config: added), and a renderer as the server has it."""
    loaded = load(ROOT / "routing.yaml", env=ENV)
    data = tmp_path_factory.mktemp("hostile-data")
    channels = build_channels(loaded, data)
    ctx = ChannelContext(session=None, data_dir=data, env=ENV)  # smtp never opens a session in build()
    channels["mail-smtp"] = CHANNELS["smtp"]("mail-smtp", SmtpChannel(type="smtp", host="127.0.0.1", sender="a@contoso.com",
                                                                to=["b@contoso.com"]), ctx)
    kinds = {c.kind for c in channels.values()}
    assert kinds == {"teams", "pagerduty", "email", "smtp", "webhook", "log"}, kinds
    return loaded, channels, Renderer(strict=True), data


def check_event(world, event, must_reach: bool = False) -> list[str]:
    """Render `event` for every role on every channel, build what each channel sends, check it."""
    loaded, channels, renderer, data = world
    problems: list[str] = []
    reached = False
    for role_name in loaded.config.roles:
        for ch_name, channel in channels.items():
            msg = render_notification(loaded, renderer, None, event, Target("r", role_name, ch_name), channel)
            where = f"{event.kind} for {role_name} on {ch_name} ({channel.kind})"
            problems += [f"{where}: {p}" for p in _check_built(channel, msg, data)]
            reached = reached or any(mark in part for part in msg.parts.values()
                                     for mark in ("alert(1)", "evil.example", "msgbox", "forged", "exe.txt"))
    if must_reach and not reached:
        problems.append(f"{event.kind}: no hostile text reached any rendered part")
    return problems


def _check_built(channel, msg, data) -> list[str]:
    problems: list[str] = []
    for url in (msg.view.get("links") or {}).values():
        if not https_only(url):
            problems.append(f"view link {url!r}")
    if channel.kind == "log":
        problems += _check_log_channel(channel, msg)
        return problems
    body = channel.build(msg)
    if channel.kind == "teams":
        card = body["attachments"][0]["content"]
        for text in card_texts(card):
            problems += markdown_leaks(text)
        problems += [f"Action.OpenUrl {u!r}" for u in card_urls(card) if not https_only(u)]
    elif channel.kind == "email":
        problems += html_leaks(body["message"]["body"]["content"])
    elif channel.kind == "smtp":
        problems += html_leaks(body["html"])
    elif channel.kind == "pagerduty":
        hrefs = [link["href"] for link in body.get("links", [])] + ([body["client_url"]] if "client_url" in body else [])
        problems += [f"PagerDuty link {u!r}" for u in hrefs if not https_only(u)]
    elif channel.kind == "webhook":
        links = body["data"].get("links") or {}
        problems += [f"webhook link {u!r}" for u in links.values() if not https_only(u)]
    return problems


def _check_log_channel(channel, msg) -> list[str]:
    """The log channel's console block and JSON-lines file, and the router's own log lines in both
    formats, carry no control character."""
    text_out, json_out, console = io.StringIO(), io.StringIO(), io.StringIO()
    handlers = []
    for fmt, stream in ((logs.TextFormatter(), text_out), (logs.JsonFormatter(), json_out)):
        h = logging.StreamHandler(stream)
        h.setFormatter(fmt)
        handlers.append(h)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    for h in handlers:
        root.addHandler(h)
    before = channel.path.stat().st_size if channel.path.exists() else 0
    try:
        with redirect_stderr(console):
            channel.send(msg)
            logging.getLogger("alertrouter.test").warning("rendered %s", msg.title, extra={"event_id": msg.event_id})
    finally:
        for h in handlers:
            root.removeHandler(h)
        root.setLevel(level)
    with channel.path.open(encoding="utf-8") as fh:
        fh.seek(before)
        written = fh.read()
    problems = []
    for name, out in (("console", console.getvalue()), ("file", written), ("text log", text_out.getvalue()),
                      ("json log", json_out.getvalue())):
        problems += [f"{name}: {p}" for p in control_leaks(out)]
    lines = [line for line in text_out.getvalue().split("\n") if line]
    records = len(json_out.getvalue().splitlines())
    if len(lines) != records or not all(line[:4].isdigit() for line in lines):
        problems.append(f"text log: {len(lines)} lines for {records} records: {lines!r}")
    problems += [f"json log: not one object a line: {line!r}" for line in json_out.getvalue().splitlines()
                 if not line.startswith("{")]
    if any(line and not line.startswith(("── ", "   ")) for line in console.getvalue().split("\n")):
        problems.append(f"console: a line outside the indented block: {console.getvalue()!r}")
    return problems


PAYLOADS = fixture_payloads()


@pytest.mark.parametrize("name,payload", PAYLOADS, ids=[n for n, _ in PAYLOADS])
def test_hostile_text_in_every_field_of_every_fixture_leaks_nowhere(name, payload, world):
    hostile, changed = inject(payload, replace_or_wrap)
    events = _events(hostile)
    assert events, f"{name} with hostile text is no longer read as events"
    assert changed >= 3, f"only {changed} fields of {name} took hostile text"
    problems = [p for ev in events for p in check_event(world, ev, must_reach=True)]
    assert problems == [], "\n".join(problems[:20])


HOSTILE_TEXT = st.one_of(
    st.sampled_from(HOSTILE),
    st.lists(st.sampled_from(HOSTILE + ["a", " ", "_", "[", "](", "://", "\n", "é", "1. "]), min_size=1,
             max_size=6).map("".join),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp", "P", "S", "L"]), max_size=20),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_hypothesis_hostile_text_leaks_nowhere(world, data):
    name, payload = data.draw(st.sampled_from(PAYLOADS), label="fixture")
    texts = data.draw(st.lists(HOSTILE_TEXT, min_size=1, max_size=8), label="texts")
    urls = data.draw(st.lists(st.sampled_from(URLS), min_size=1, max_size=3), label="urls")

    def pick(i: int, original: str) -> str:
        if original.lower().startswith(("http://", "https://")):
            return urls[i % len(urls)]
        return texts[i % len(texts)] + original if i % 3 == 0 else texts[i % len(texts)]

    hostile, _ = inject(payload, pick)
    events = _events(hostile) or []
    problems = [p for ev in events for p in check_event(world, ev)]
    assert problems == [], "\n".join(problems[:20])
