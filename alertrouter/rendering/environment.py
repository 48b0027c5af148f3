"""The Jinja environment templates run in: each template escapes by what its output is for.

- a template that makes HTML (`*.html.j2`) is HTML-escaped (autoescape);
- one that makes Teams Markdown (`teams/…`) has every value it prints Markdown-escaped
  (`safety.md_escape`), its own text (`**Resolved**`) kept;
- one that makes a log text (`log/…`) has control characters in the values it prints escaped;
- anything else (subjects, plain text, PagerDuty summaries, webhook text) is text.

A template imported, included or extended by another (macros, partials such as
`email/_macros.j2`) is compiled in the flavour of the one that loads it, whatever its own name:
the same macro file prints escaped values into HTML and plain ones into a text part. (Jinja marks a
macro's result safe when an escaping template calls it, so a macro file compiled without escaping
would pass payload markup straight into HTML.) The `link` filter keeps a URL only if
`safety.link_allowed` accepts it.
"""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup

from .safety import escape_controls, link_allowed, md_escape

HTML, MARKDOWN, LOG = "html", "md", "log"
_AS = "@"  # "email/_macros.j2@html": a partial compiled in the flavour of the template that loaded it


@functools.lru_cache(maxsize=1024)
def flavour(name: str | None) -> str | None:
    """What the template called `name` produces: HTML, Teams Markdown, a log text, or None (text)."""
    if not name:
        return None
    base, sep, tag = name.rpartition(_AS)
    if sep and tag in (HTML, MARKDOWN, LOG):
        return tag
    if name.endswith(".html.j2"):
        return HTML
    if name.startswith("teams/"):
        return MARKDOWN
    if name.startswith("log/"):
        return LOG
    return None


class _Loader(jinja2.FileSystemLoader):
    """Reads `name@flavour` from the file `name`."""

    def get_source(self, environment, template):
        base, sep, tag = template.rpartition(_AS)
        return super().get_source(environment, base if sep and tag in (HTML, MARKDOWN, LOG) else template)


@jinja2.pass_context
def _finalize(context, value):
    """Every printed value: Markdown-escaped in Teams templates, control characters escaped in log
    templates (Markup, e.g. a macro's output, is the template's own and is kept)."""
    kind = flavour(context.name)
    if kind == MARKDOWN and not isinstance(value, Markup):
        return Markup(md_escape(value))
    if kind == LOG and isinstance(value, str) and not isinstance(value, Markup):
        return escape_controls(value)
    return value


class _Environment(SandboxedEnvironment):
    def join_path(self, template: str, parent: str) -> str:
        """A template loaded by another is compiled in the parent's flavour."""
        want = flavour(parent)
        return template if want is None or flavour(template) == want else f"{template}{_AS}{want}"


def environment(search_path: list[str], *, allow_http: bool = False, **options: Any) -> SandboxedEnvironment:
    """A sandboxed environment over `search_path` (first folder wins) with the flavours and filters."""
    env = _Environment(loader=_Loader(search_path), autoescape=lambda name: flavour(name) in (HTML, MARKDOWN),
                       finalize=_finalize, **options)
    env.filters["link"] = lambda url: url if link_allowed(url, allow_http) else ""
    return env
