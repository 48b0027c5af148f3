"""Rendering: a flat view model per role, Jinja2 text parts, and a plain fallback.

Each channel kind declares the text *parts* it needs (`TeamsSender.parts = ("title", "text")`,
email: subject, text, html …). A part comes from the first template found, in this order, in the
route's template folder, then the role's, then the shipped `templates/`:

    <channel kind>/<event kind>.<part>.j2     e.g. teams/alert.fired.text.j2
    <channel kind>/<family>.<part>.j2         e.g. teams/alert.text.j2   (family = kind before the dot)
    <channel kind>/_default.<part>.j2

Templates run in Jinja2's sandbox and escape by what their output is for (HTML, Teams Markdown,
log text: see `template_env`), partials and macros in the flavour of the template that loads them.
Templates see only the view model, already filtered by the role's visibility, whose links are only
https (see `safety`). Bodies (cards, JSON) are built as data by the channel, never
string-templated. A template that fails never swallows a notification: one that does not compile,
or fails as it runs, is replaced by the shipped one for the same part, and only when that fails too
by the plain rendering; `FILE:LINE: error` is logged and kept on the result (`template_errors`).
`problems` compiles every template at `check` and at start-up. A group notice's members
are `group` in the view model (`group_view`).
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from . import problems
from .group_view import group_view
from ..model import Event
from .safety import safe_links
from .visible import CUSTOM, DIMENSION, prefixed, shown, without_secrets
from .wording import duration_text, iso_duration_text, when_text  # noqa: F401  (duration_text: the one style)
from .environment import environment, flavour  # noqa: F401  (flavour: what a template makes)

log = logging.getLogger("alertrouter.render")

DEFAULT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"

# What a restricted role (e.g. QA, whose access is limited) may see: no links, no details (run
# properties, queries, code and snapshot references), no tags; only these labels.
RESTRICTED_LABELS = frozenset({
    "workspace", "experiment", "run_status", "model_name", "model_version", "service_name",
    "alert_rule", "resource", "monitor_condition", "monitoring_service", "drift_name",
})

SEVERITY_SEV = {"critical": "Sev0", "error": "Sev1", "warning": "Sev2", "informational": "Sev3", "verbose": "Sev4"}


@dataclass(frozen=True, slots=True)
class Rendered:
    """One notification, rendered for one role on one channel; what a channel sends from."""

    notification_id: str
    event_id: str
    route: str
    role: str
    channel: str
    kind: str
    severity: str
    title: str
    parts: dict[str, str]
    view: dict[str, Any] = field(default_factory=dict)
    recipients: dict[str, list[str]] = field(default_factory=dict)  # role's to/cc, for email channels
    template_errors: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.parts.get("text", "")


def view_model(event: Event, *, route: str, role: str, visibility: str, show: Iterable[str] = (),
               started_at: datetime | None = None, allow_http: bool = False) -> dict[str, Any]:
    """The flat dict templates and channels see. Restricted roles get no links, details or tags, but
    the tags and properties their `show:` names (`shown`); links are only the event's `links` whose
    URL `safety.link_allowed` accepts. `dimensions` and `custom_properties` come from the labels the
    role sees (`dimension.*`, `custom.*`)."""
    restricted = visibility == "restricted"
    links = {} if restricted else safe_links(event.links, allow_http)
    if len(links) < len(event.links) and not restricted:
        refused = [name for name in event.links if name not in links]
        log.warning("event %s: link(s) %s not sent: only https links are (http with links.allow_http)",
                    event.id, ", ".join(refused))
    labels = {k: v for k, v in event.labels.items() if not restricted or k in RESTRICTED_LABELS}
    duration = (event.time - started_at).total_seconds() if started_at else None
    status = {"alert.resolved": "resolved", "alert.fired": "firing"}.get(event.kind, "")
    return {
        "id": event.id,
        "source": event.source,
        "kind": event.kind,
        "family": event.kind.split(".", 1)[0],
        "status": status,
        "severity": event.severity.value,
        "sev": SEVERITY_SEV[event.severity.value],
        "title": event.title,
        "summary": event.summary,
        "time": event.time.isoformat(),  # as data (webhook, PagerDuty); `when` is what people read
        "when": when_text(event.time),
        "started_at": started_at.isoformat() if started_at else "",
        "window": iso_duration_text(labels.get("window_size")),  # a metric alert's `PT5M` as "5 min"
        "duration_seconds": duration,
        "duration": duration_text(duration),
        "fingerprint": event.fingerprint,
        "labels": labels,
        "links": links,
        "details": {} if restricted else dict(event.details),
        "dimensions": prefixed(labels, DIMENSION),
        "custom_properties": without_secrets(prefixed(labels, CUSTOM)),
        "shown": shown(event, show) if restricted else {},
        "route": route,
        "role": role,
        "visibility": visibility,
    }


def plain(view: dict, part: str = "text") -> str:
    """The rendering used when no template exists or a template fails."""
    title = view["title"]
    if part in ("title", "summary"):
        return title
    if part == "subject":
        return f"[{view['severity'].upper()}] {title}"
    lines = [f"[{view['severity'].upper()}] {title}"]
    if view.get("summary") and view["summary"] != title:
        lines.append(view["summary"])
    if view.get("duration"):
        lines.append(f"Duration: {view['duration']}")
    for name, url in (view.get("links") or {}).items():
        lines.append(f"{name}: {url}")
    text = "\n".join(lines)
    if part == "html":
        return "<pre>" + html.escape(text) + "</pre>"
    return text


class Renderer:
    shipped_dir = DEFAULT_TEMPLATES  # the built-in templates, the last place a part is looked for

    def __init__(self, templates_dir: str | Path | None = None, *, strict: bool | None = None,
                 allow_http: bool = False):
        self.dir = Path(templates_dir) if templates_dir else DEFAULT_TEMPLATES
        if strict is None:
            strict = os.environ.get("ALERTROUTER_STRICT_TEMPLATES") == "1"
        self.strict = strict
        self.allow_http = allow_http  # routing.yaml `links.allow_http`
        self._envs: dict[tuple[str, ...], SandboxedEnvironment] = {}
        # (template folders, channel kind, event kind, part) → the template found, or None: chosen once
        self._chosen: dict[tuple, tuple[jinja2.Template | None, str]] = {}
        self._globals: dict[jinja2.Template, dict] = {}
        self._builtin: Renderer | None = None  # the shipped templates, when a part's template fails

    def _env(self, overrides: tuple[str, ...]) -> SandboxedEnvironment:
        env = self._envs.get(overrides)
        if env is None:
            env = environment(
                [*overrides, str(self.dir)],
                undefined=jinja2.StrictUndefined if self.strict else jinja2.ChainableUndefined,
                allow_http=self.allow_http,  # for the `link` filter
                trim_blocks=True,
                lstrip_blocks=True,
                auto_reload=False,  # templates are read once per process; restart to pick up edits
            )
            self._envs[overrides] = env
        return env

    def template(self, dirs: tuple[str, ...], channel_kind: str, kind: str, part: str) -> jinja2.Template | None:
        """The template for one part (most specific first), or None for the plain rendering. One that
        does not compile is replaced by the built-in one (see `chosen`)."""
        return self.chosen(dirs, channel_kind, kind, part)[0]

    def chosen(self, dirs: tuple[str, ...], channel_kind: str, kind: str,
               part: str) -> tuple[jinja2.Template | None, str]:
        """(template, why it is the built-in one): when the template selected from `dirs` does not
        compile (a syntax error, an unknown filter or test), the built-in template for the same
        names, with `FILE:LINE: error` as the reason (logged once per process); else (it, "")."""
        key = (dirs, channel_kind, kind, part)
        try:
            return self._chosen[key]
        except KeyError:
            pass
        family = kind.split(".", 1)[0]
        names = [f"{channel_kind}/{kind}.{part}.j2", f"{channel_kind}/{family}.{part}.j2",
                 f"{channel_kind}/_default.{part}.j2"]
        why = ""
        try:
            tpl = self._env(dirs).select_template(names)
        except jinja2.TemplatesNotFound:
            tpl = None
        except jinja2.TemplateSyntaxError as exc:  # unknown filters and tests are TemplateAssertionErrors
            why = problems.syntax_error(exc)
            tpl = None if self._is_builtin(dirs) else self.builtin(channel_kind, kind, part)
            log.error("template does not compile: %s; %s is sent instead until it is fixed", why,
                      f"the built-in {tpl.name}" if tpl else "the plain rendering")
        self._chosen[key] = (tpl, why)
        return tpl, why

    def builtin(self, channel_kind: str, kind: str, part: str) -> jinja2.Template | None:
        """The template shipped with the router (templates/) for this part, or None."""
        if self._builtin is None:
            self._builtin = self if self._is_builtin(()) else Renderer(strict=self.strict, allow_http=self.allow_http)
        return self._builtin.chosen((), channel_kind, kind, part)[0]

    def _is_builtin(self, dirs: tuple[str, ...]) -> bool:
        return not dirs and self.dir.resolve() == DEFAULT_TEMPLATES

    def _run(self, tpl: jinja2.Template, view: dict[str, Any]) -> str:
        """What `tpl.render(**view)` returns, without rebuilding the template's globals (a ChainMap
        that `render` walks into a new dict every time) for each notification."""
        base = self._globals.get(tpl)
        if base is None:
            base = self._globals[tpl] = dict(tpl.globals)
        return "".join(tpl.root_render_func(tpl.new_context({**base, **view}, shared=True)))

    def _part(self, dirs: tuple[str, ...], channel_kind: str, kind: str, part: str, view: dict[str, Any],
              notification_id: str) -> tuple[str, str]:
        """(text, "" or why it is not the selected template's): a template that fails to compile or to
        run is replaced by the built-in one for the part, and that, if it fails too, by `plain`."""
        tpl, why = self.chosen(dirs, channel_kind, kind, part)
        tried: set[str | None] = set()
        while tpl is not None and tpl.filename not in tried:
            tried.add(tpl.filename)
            try:
                text = self._run(tpl, view).strip()
            except Exception:  # a broken template must not swallow a page
                failed = problems.runtime_error(tpl)
                why = f"{why}; {failed}" if why else failed
                fallback = self.builtin(channel_kind, kind, part)
                if fallback is not None and fallback.filename in tried:
                    fallback = None
                log.error("template %s failed for notification %s: %s; sending %s", tpl.name, notification_id,
                          failed, f"the built-in {fallback.name}" if fallback else "the plain rendering")
                tpl = fallback
                continue
            return text, (f"{why} (sent the built-in {tpl.name})" if why else "")
        return plain(view, part), (f"{why} (sent the plain rendering)" if why else "")

    def render(self, event: Event, *, notification_id: str = "", route: str, role: str, channel: str,
               channel_kind: str, parts: Iterable[str], visibility: str = "full", show: Iterable[str] = (),
               template_dirs: Iterable[str] = (), recipients: dict[str, list[str]] | None = None,
               started_at: datetime | None = None) -> Rendered:
        view = view_model(event, route=route, role=role, visibility=visibility, show=show, started_at=started_at,
                          allow_http=self.allow_http)
        dirs = tuple(str(d) for d in template_dirs if d)
        view["group"] = group_view(event, restricted=visibility == "restricted", visible=RESTRICTED_LABELS,
                                   sev=SEVERITY_SEV, allow_http=self.allow_http)
        rendered: dict[str, str] = {}
        errors: dict[str, str] = {}
        for part in parts:
            rendered[part], why = self._part(dirs, channel_kind, event.kind, part, view, notification_id)
            if why:
                errors[part] = why
        return Rendered(
            notification_id=notification_id, event_id=event.id, route=route, role=role, channel=channel,
            kind=event.kind, severity=event.severity.value, title=event.title, parts=rendered, view=view,
            recipients=recipients or {}, template_errors=errors,
        )
