"""Every real fixture renders for every channel kind and every role of the shipped routing.yaml
without a template error, and no restricted rendering carries a link, a run property, a query or
a studio/portal URL anywhere in what would be sent."""

from __future__ import annotations

import json
import re

import pytest

from alertrouter.channels.base import ChannelContext
from alertrouter.channels.transport import make_session
from alertrouter.channels.registry import CHANNELS
from alertrouter.config.load import load
from alertrouter.delivery.notification import render_notification
from alertrouter.inbound import parse_payload
from alertrouter.rendering.renderer import Renderer
from alertrouter.config.types import Target
from tests.conftest import ROOT, fixture_files

from .test_contract import FACTORIES

EVENTS = [e for p in fixture_files() for e in parse_payload(json.loads(p.read_text())).events]
LOADED = load(ROOT / "routing.yaml", env={})
URL_RE = re.compile(r"https?://(?!127\.0\.0\.1)[^\s\"'<>]+")


def channel_of(kind: str, tmp_path):
    cls = CHANNELS[kind]
    ctx = ChannelContext(make_session(), tmp_path, env={})
    if kind in FACTORIES:
        return cls(f"v-{kind}", FACTORIES[kind]("http://127.0.0.1:9/in", 5.0), ctx)
    cfg = {
        "log": {"type": "log"},
        "email": {"type": "email", "tenant_id": "t", "client_id": "c", "client_secret": "s", "sender": "a@b.c",
                  "to": ["x@y.z"], "authority_host": "https://127.0.0.1:9", "graph_url": "http://127.0.0.1:9/v1.0"},
        "smtp": {"type": "smtp", "host": "127.0.0.1", "port": 9, "sender": "a@b.c", "to": ["x@y.z"]},
    }[kind]
    from pydantic import TypeAdapter

    from alertrouter.config.schema import AnyChannel

    return cls(f"v-{kind}", TypeAdapter(AnyChannel).validate_python(cfg), ctx)


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_every_fixture_every_role(kind, tmp_path):
    channel = channel_of(kind, tmp_path)
    renderer = Renderer(strict=True)
    restricted_seen = 0
    for event in EVENTS:
        for role_name, role in LOADED.config.roles.items():
            msg = render_notification(LOADED, renderer, None, event, Target("r", role_name, channel.name), channel)
            assert msg.template_errors == {}, (event.kind, role_name, msg.template_errors)
            built = channel.build(msg)
            body = json.dumps(built, ensure_ascii=False)
            if built.get("event_action") != "resolve":  # a PagerDuty resolve carries no text by design
                assert event.title[:40] in body or kind == "pagerduty" and msg.parts["summary"][:40] in body
            if role.visibility != "restricted":
                continue
            restricted_seen += 1
            leaked = [u for u in URL_RE.findall(body) if "adaptivecards.io/schemas" not in u]
            assert leaked == [], (event.kind, kind, leaked)
            visible = " ".join([event.title, event.summary, *msg.view["labels"].values()])
            for value in [*event.details.values(), *event.links.values()]:
                if len(value) > 12 and value not in visible:
                    assert value not in body, (event.kind, kind, value[:60])
            assert "property." not in body and "ml.azure.com" not in body
    assert restricted_seen > 0
