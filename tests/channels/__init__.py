"""Helpers shared by the channel tests: real fixture events, renderings, and the leak check."""

from __future__ import annotations

import contextlib
import copy
import json
import socket
from datetime import datetime

from alertrouter.channels.base import DeliveryResult
from alertrouter.inbound import parse_payload
from alertrouter.model import Event
from alertrouter.rendering.renderer import Rendered, Renderer
from tests.conftest import fixture_files, load_fixture

METRIC_FIRED = "monitor-metric-static-fired.test-action.json"
METRIC_RESOLVED = "monitor-metric-static-resolved.json"
RUN_FAILED = "aml-runstatuschanged-failed.eventgrid.json"
RUN_COMPLETED = "aml-runcompleted.eventgrid.json"
BUDGET = "monitor-budget-fired.test-action.json"
SERVICE_HEALTH = "monitor-servicehealth-fired-stage-resolved.test-action.json"
SIX = [METRIC_FIRED, METRIC_RESOLVED, RUN_FAILED, RUN_COMPLETED, BUDGET, SERVICE_HEALTH]


def event(name: str) -> Event:
    [ev] = parse_payload(load_fixture(name)).events
    return ev


def event_fixtures() -> list[str]:
    """Every fixture that parses to exactly one event (not the subscription handshake; a fixture the
    inbound parser rejects is the inbound tests' concern, not the channels')."""
    out = []
    for p in fixture_files():
        try:
            if len(parse_payload(load_fixture(p.name)).events) == 1:
                out.append(p.name)
        except Exception:
            continue
    return out


def metric_fired_pair() -> tuple[Event, Event]:
    """The resolved metric alert fixture, and the same alert edited back to its Fired state."""
    raw = load_fixture(METRIC_RESOLVED)
    fired = copy.deepcopy(raw)
    fired["data"]["essentials"]["monitorCondition"] = "Fired"
    del fired["data"]["essentials"]["resolvedDateTime"]
    [f] = parse_payload(fired).events
    [r] = parse_payload(raw).events
    return f, r


def render(channel, ev: Event, *, visibility: str = "full", role: str = "se", route: str = "r",
           notification_id: str = "n_0123456789abcdef", started_at: datetime | None = None) -> Rendered:
    msg = Renderer(strict=True).render(ev, notification_id=notification_id, route=route, role=role,
                                       channel=channel.name, channel_kind=getattr(channel, "template_kind", channel.kind), parts=channel.parts,
                                       visibility=visibility, started_at=started_at)
    assert msg.template_errors == {}
    return msg


def posted(httpserver, path: str) -> list[dict]:
    """JSON bodies the receiver got on `path` (a late request from another test's path is ignored)."""
    return [json.loads(req.get_data()) for req, _ in httpserver.log if req.path == path]


@contextlib.contextmanager
def silent_server():
    """A loopback port that accepts connections and never answers: the client's read times out.
    (No sleeping handler, so no late request lands in a later test's log.)"""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def hidden_from_restricted(ev: Event, labels: bool = True) -> list[str]:
    """Strings a restricted rendering must not contain: every link, every detail (key or value) and,
    with `labels`, every label value outside the restricted set, unless it is also part of what a
    restricted role may see anyway (title, summary, allowed labels)."""
    from alertrouter.rendering.renderer import RESTRICTED_LABELS

    visible = " ".join([ev.title, ev.summary, *(v for k, v in ev.labels.items() if k in RESTRICTED_LABELS)])
    out = list(ev.links.values())
    out += [v for v in ev.details.values() if len(v) >= 6 and v not in visible]
    out += [f'"{k}"' for k in ev.details]  # detail keys (property.…) as JSON keys
    if labels:
        out += [v for k, v in ev.labels.items() if k not in RESTRICTED_LABELS and len(v) >= 6 and v not in visible]
    return out


def assert_no_secret(result: DeliveryResult, caplog, secrets: list[str]) -> None:
    """Neither the result nor any of our log lines carries a secret (the receiver's own access log,
    werkzeug, is the far end's and is excluded)."""
    for s in secrets:
        assert s not in result.detail
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    for s in secrets:
        assert not any(s in m for m in ours), s

