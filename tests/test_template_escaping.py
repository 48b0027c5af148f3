"""Every template under templates/ escapes payload text for what it makes (issue 16, item 4): HTML
parts and every partial or macro file they load are HTML-escaped, Teams parts Markdown-escaped,
log parts have control characters escaped, and text parts (subject, plain text) stay text."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import jinja2
import pytest

from alertrouter.digest import collect, period_ending, render_digest
from alertrouter.model import Event
from alertrouter.rendering.renderer import DEFAULT_TEMPLATES, Renderer, flavour
from alertrouter.store.sqlite import SqliteStore
from tests.hostile import control_leaks, html_leaks, markdown_leaks

EVIL = '<script>alert(1)</script><img src=x onerror=alert(1)>"\'><svg onload=alert(2)>'
EVIL_MD = "[click](https://evil.example/x) **b** <at>Ana</at> www.evil.example"
EVIL_CTRL = "a\x1b[31m\x07\r\n2026-12-07 ERROR forged\u202e\x00"
EVIL_ALL = EVIL + EVIL_MD + EVIL_CTRL
PART = re.compile(r"^(?P<kind>[a-z]+)/(?P<name>[^/]+)\.(?P<part>subject|text|html|title|summary)\.j2$")
KINDS = ["alert.fired", "alert.resolved", "alert.acknowledged", "run.started", "run.completed", "run.failed",
         "run.canceled", "run.status_changed", "run.stuck", "model.registered", "model.deployed",
         "dataset.drift_detected", "event.other"]
LABEL_KEYS = ["alert_rule", "resource", "resource_group", "monitoring_service", "monitor_condition", "workspace",
              "experiment", "run_id", "run_status", "model_name", "model_version", "service_name", "compute_type",
              "drift_name", "drift_coefficient", "budget_name", "spent_amount", "forecasted_amount",
              "budget_threshold", "service", "region", "tracking_id", "metric_name", "time_aggregation", "operator",
              "threshold", "window_size", "metric_value", "signal_type", "operation_name", "caller", "stage",
              "incident_type", "model_ids"]
T0 = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)


def is_partial(name: str) -> bool:
    """A file templates load (macros), never selected for a part: `_name…` other than `_default.…`."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith("_") and not base.startswith("_default.")


def all_templates() -> list[str]:
    return sorted(p.relative_to(DEFAULT_TEMPLATES).as_posix() for p in DEFAULT_TEMPLATES.rglob("*.j2"))


def hostile_event(kind: str, text: str = EVIL_ALL) -> Event:
    return Event(id="e1", source="azure-monitor" if kind.startswith("alert") else "aml", kind=kind,
                 severity="error", title=f"title {text}", summary=f"summary {text}", time=T0, fingerprint="f1",
                 labels={k: f"{k} {text}" for k in LABEL_KEYS},
                 links={"Good": "https://portal.azure.com/#x", "Script": "javascript:alert(1)",
                        "Plain": "http://evil.example/", "Data": "data:text/html,<script>alert(1)</script>"},
                 details={"property.note": f"note {text}"})


def test_every_template_is_a_part_or_a_partial_with_a_flavour():
    names = all_templates()
    assert "email/_macros.j2" in names and "email/_digest_macros.html.j2" in names
    for name in names:
        m = PART.match(name)
        assert m or is_partial(name), f"{name}: neither a part nor a partial"
        if name.endswith(".html.j2"):
            assert flavour(name) == "html"
        if name.startswith("teams/"):
            assert flavour(name) == "md"
        if name.startswith("log/"):
            assert flavour(name) == "log"


@pytest.mark.parametrize("visibility", ["full", "restricted"])
def test_html_parts_escape_payload_markup(visibility):
    renderer = Renderer(strict=True)
    used = set()
    for kind in KINDS:
        msg = renderer.render(hostile_event(kind), route="r", role="qa", channel="mail", channel_kind="email",
                              parts=("subject", "text", "html"), visibility=visibility)
        assert msg.template_errors == {}
        used.add(renderer.template((), "email", kind, "html").name)
        html = msg.parts["html"]
        assert html_leaks(html) == [], kind
        assert "&lt;script&gt;" in html, kind  # the payload is there, as text
        assert 'href="https://portal.azure.com/#x"' in html or visibility == "restricted"
        # the text parts stay text: the same payload, not entity-escaped
        assert "<script>" in msg.parts["subject"] and "&lt;" not in msg.parts["subject"], kind
        assert "<script>" in msg.parts["text"] and "&lt;" not in msg.parts["text"], kind
    html_parts = {n for n in all_templates() if n.startswith("email/") and n.endswith(".html.j2")
                  and not is_partial(n) and not n.startswith("email/digest.")}
    assert used == html_parts


def test_the_digest_html_escapes_payload_names_and_sends_only_https_links(tmp_path):
    store = SqliteStore(tmp_path / "d.db")
    t = T0 + timedelta(hours=1)
    events = [
        Event(id="r1", source="aml", kind="run.failed", severity="error", title=EVIL, time=t, fingerprint="run:1",
              labels={"experiment": EVIL, "run_status": "failed"}, links={"Run": "javascript:alert(1)"}),
        Event(id="r2", source="aml", kind="model.registered", severity="informational", title=EVIL, time=t,
              fingerprint="m:1", labels={"model_name": EVIL, "model_version": EVIL}),
        Event(id="r3", source="aml", kind="model.deployed", severity="informational", title=EVIL, time=t,
              fingerprint="d:1", labels={"service_name": EVIL, "model_ids": EVIL}),
        Event(id="r4", source="aml", kind="dataset.drift_detected", severity="warning", title=EVIL, time=t,
              fingerprint="dd:1", labels={"drift_name": EVIL, "drift_coefficient": "0.5"}),
        Event(id="a1", source="azure-monitor", kind="alert.fired", severity="error", title=EVIL, time=t,
              fingerprint="a:1", labels={"alert_rule": EVIL}),
    ]
    store.ingest([(e, []) for e in events], 0)
    data = collect(store, "weekly", period_ending((T0 + timedelta(days=5)).date(), 7, "UTC"), metrics=[EVIL])
    for visibility in ("full", "restricted"):
        msg = render_digest(Renderer(strict=True), data, role="ba", visibility=visibility, channel="mail")
        assert msg.template_errors == {}
        assert html_leaks(msg.parts["html"]) == []
        assert "&lt;script&gt;" in msg.parts["html"]
        assert "javascript:" not in msg.parts["html"] and "javascript:" not in msg.parts["text"]
    store.close()


class Hostile(str):
    """Payload text that also answers as a mapping or an object, for calling any macro with it."""

    def __new__(cls):
        return super().__new__(cls, EVIL)

    def get(self, key, default=None):
        return Hostile()

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return Hostile()

    def __getitem__(self, key):
        return Hostile()


def partials() -> list[str]:
    return [n for n in all_templates() if is_partial(n)]


@pytest.mark.parametrize("name", partials())
def test_every_macro_of_every_partial_escapes_when_an_html_template_loads_it(name):
    env = Renderer(strict=False)._env(())
    module = env.get_template(name, parent="email/probe.html.j2").module
    macros = {k: v for k, v in vars(module).items() if isinstance(v, jinja2.runtime.Macro)}
    assert macros, f"{name} defines no macro"
    for macro_name, macro in macros.items():
        out = str(macro(*[Hostile() for _ in macro.arguments]))
        assert html_leaks(out) == [], f"{name}: {macro_name}"
        assert "<script" not in out, f"{name}: {macro_name}"


def test_the_shared_macros_stay_text_for_text_parts():
    env = Renderer(strict=False)._env(())
    module = env.get_template("email/_macros.j2", parent="email/run.text.j2").module
    out = module.run_headline("run.started", {"experiment": EVIL}, "", "t")
    assert out == f"Experiment {EVIL} started"


@pytest.mark.parametrize("visibility", ["full", "restricted"])
def test_teams_parts_markdown_escape_payload_text(visibility):
    renderer = Renderer(strict=True)
    for kind in KINDS:
        msg = renderer.render(hostile_event(kind), route="r", role="qa", channel="t", channel_kind="teams",
                              parts=("title", "text"), visibility=visibility)
        assert msg.template_errors == {}
        for part in ("title", "text"):
            assert markdown_leaks(msg.parts[part]) == [], (kind, part)
            assert r"\[click\]" in msg.parts[part], (kind, part)
    resolved = renderer.render(hostile_event("alert.resolved"), route="r", role="qa", channel="t",
                               channel_kind="teams", parts=("text",))
    assert resolved.parts["text"].startswith("**Resolved.**")  # the template's own Markdown is kept


def test_log_parts_escape_control_characters_in_values():
    renderer = Renderer(strict=True)
    for kind in KINDS:
        msg = renderer.render(hostile_event(kind, EVIL_CTRL), route="r", role="qa", channel="log",
                              channel_kind="log", parts=("text",))
        text = msg.parts["text"]
        assert control_leaks(text) == [], kind
        assert "forged" in text and not any(line.startswith("2026-12-07") for line in text.split("\n")), kind
        assert text.count("\n") >= 2  # the template's own lines are kept
