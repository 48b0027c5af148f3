"""The event page names what each stage decided: inhibited by which alert, grouped into which
group, deferred until when; and the run-failed fixture's trail names the route and the failing
matcher of the others."""

from __future__ import annotations

import re

import requests

from alertrouter.app import App
from alertrouter.config.load import loads
from tests.conftest import RunningServer
from tests.console.conftest import alert, post_alert

STAGES_CONFIG = """
version: 1
channels:
  hook: {type: webhook, url: "http://127.0.0.1:9/never"}
roles:
  sre: {channels: [hook]}
  night: {channels: [hook], muted_during: [always]}
time_windows:
  always:
    time_zone: UTC
    ranges: [{start: "00:00", end: "24:00"}]
inhibit_rules:
  - name: critical-holds-the-rest
    source: {severity: critical}
    target: {severity: {at_most: warning}}
    equal: [resource]
routes:
  - name: storms
    match: {alert_rule: storm}
    roles: [sre]
    group_by: [alert_rule]
  - name: quiet
    match: {alert_rule: nightly}
    roles: [night]
  - name: rest
    match: {}
    roles: [sre]
"""


def decided(server, n: int) -> list[str]:
    from alertrouter.store.base import EventFilter

    [event] = [e for e, _ in server.app.store.list_events(EventFilter()).events if e.id.split("|")[0].endswith(f"a-{n}")]
    page = requests.get(server.url + "/event", params={"id": event.id}, timeout=10).text
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<dd class="stage[^"]*">(.*?)</dd>', page, re.S)]


def test_each_stage_is_named_on_the_event_page(tmp_path):
    app = App(loads(STAGES_CONFIG, str(tmp_path / "routing.yaml"), env={}), tmp_path / "data")
    with RunningServer(app) as server:
        post_alert(server, alert(1, rule="disk", resource="vm-1", severity="Sev0"))
        post_alert(server, alert(2, rule="cpu", resource="vm-1", severity="Sev3"))
        post_alert(server, alert(3, rule="storm", resource="vm-2", severity="Sev3"))
        post_alert(server, alert(4, rule="nightly", resource="vm-3", severity="Sev3"))
        [inhibited] = decided(server, 2)
        assert inhibited.startswith("inhibition: inhibited by Fired: disk on vm-1") and "critical-holds-the-rest" in inhibited
        [grouped] = decided(server, 3)
        assert grouped.startswith("grouping: grouped into ")
        [deferred] = decided(server, 4)
        assert re.match(r"window: deferred until \d{4}-\d\d-\d\dT.* \(always\)", deferred), deferred


def test_redeliveries_are_named_as_deduplicated(tmp_path):
    app = App(loads(STAGES_CONFIG, str(tmp_path / "routing.yaml"), env={}), tmp_path / "data")
    with RunningServer(app) as server:
        doc = alert(5, rule="disk", resource="vm-5")
        first = post_alert(server, doc)
        again = [post_alert(server, doc) for _ in range(2)]
        assert first["accepted"] == 1 and [a["duplicates"] for a in again] == [1, 1]
        from alertrouter.store.base import EventFilter

        [event] = [e for e, _ in app.store.list_events(EventFilter()).events]
        page = requests.get(server.url + "/event", params={"id": event.id}, timeout=10).text
        assert "Deduplicated: redelivered 2 times after it was taken in" in page
        assert len(app.store.notifications_for(event.id)) == 1
