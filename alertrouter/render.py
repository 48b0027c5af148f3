"""Rendering: a flat view model per role, Jinja2 text templates, and a plain fallback.

Templates render *text* only (`templates/<channel type>/<kind>.txt.j2`, falling back to
`_default.txt.j2`); bodies such as webhook JSON are built as data in the channel. A template that
fails never swallows a notification: the plain rendering is used and the error is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from .model import Event

log = logging.getLogger("alertrouter.render")

DEFAULT_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# What a restricted role (e.g. QA, whose access is limited) may see: no links, no run properties
# or queries (details), no tags; only these labels.
RESTRICTED_LABELS = frozenset({
    "workspace", "experiment", "run_status", "model_name", "model_version", "service_name",
    "alert_rule", "resource", "monitor_condition", "monitoring_service", "drift_name",
})


@dataclass(frozen=True)
class Rendered:
    event_id: str
    route: str
    role: str
    channel: str
    kind: str
    severity: str
    title: str
    text: str
    view: dict[str, Any] = field(default_factory=dict)
    template_error: str = ""


def view_model(event: Event, *, route: str, role: str, visibility: str) -> dict[str, Any]:
    restricted = visibility == "restricted"
    labels = {k: v for k, v in event.labels.items() if not restricted or k in RESTRICTED_LABELS}
    return {
        "id": event.id,
        "source": event.source,
        "kind": event.kind,
        "status": "resolved" if event.kind == "alert.resolved" else "firing" if event.kind == "alert.fired" else "",
        "severity": event.severity.value,
        "title": event.title,
        "summary": event.summary,
        "time": event.time.isoformat(),
        "fingerprint": event.fingerprint,
        "labels": labels,
        "links": {} if restricted else dict(event.links),
        "details": {} if restricted else dict(event.details),
        "route": route,
        "role": role,
        "visibility": visibility,
    }


class Renderer:
    def __init__(self, templates_dir: str | Path | None = None):
        self.dir = Path(templates_dir) if templates_dir else DEFAULT_TEMPLATES
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def render(self, event: Event, *, route: str, role: str, channel: str, channel_type: str,
               visibility: str) -> Rendered:
        view = view_model(event, route=route, role=role, visibility=visibility)
        text, error = self._text(channel_type, event.kind, view)
        return Rendered(
            event_id=event.id, route=route, role=role, channel=channel, kind=event.kind,
            severity=event.severity.value, title=event.title, text=text, view=view, template_error=error,
        )

    def _text(self, channel_type: str, kind: str, view: dict) -> tuple[str, str]:
        try:
            tpl = self.env.select_template([f"{channel_type}/{kind}.txt.j2", f"{channel_type}/_default.txt.j2"])
            return tpl.render(**view).strip(), ""
        except jinja2.TemplateNotFound:
            return plain(view), ""
        except Exception as exc:  # a broken template must not swallow a page
            error = f"{type(exc).__name__}: {exc}"
            log.warning("template for %s/%s failed (%s); using the plain rendering", channel_type, kind, error)
            return plain(view), error


def plain(view: dict) -> str:
    lines = [f"[{view['severity'].upper()}] {view['title']}"]
    if view.get("summary") and view["summary"] != view["title"]:
        lines.append(view["summary"])
    for name, url in (view.get("links") or {}).items():
        lines.append(f"{name}: {url}")
    return "\n".join(lines)
