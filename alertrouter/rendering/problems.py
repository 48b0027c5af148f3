"""Template problems, said as `FILE:LINE: what is wrong`: every template of every folder a
notification can select from is compiled by `alertrouter check` (which fails on them) and at
start-up (which logs them and starts: a router that refuses to start loses every page; at send
time a template that fails is replaced by the built-in one, see `Renderer.render`).

Compiling finds syntax errors and unknown filters and tests, also those Jinja would only notice
when the line runs (an unknown filter inside an `{% if %}`). What only running finds (a division
by zero, a missing field under strict templates) is found at send time, and said the same way.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Iterable, NamedTuple

import jinja2
from jinja2 import nodes

from .safety import escape_controls

log = logging.getLogger("alertrouter.render")

MESSAGE_MAX = 300  # an error's message as logged and recorded: payload text may be in it


class Folder(NamedTuple):
    """A template folder: where it is configured (for the message), its name as written, its path."""

    where: str
    shown: str
    path: Path


def shown_path(path: str | os.PathLike | None) -> str:
    """A template file as people find it: relative to the working directory when inside it."""
    if not path:
        return "<template>"
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(p)


def clean(text: str) -> str:
    """An error message fit for a log line: control characters escaped, clipped."""
    out = escape_controls(str(text))
    return out if len(out) <= MESSAGE_MAX else out[: MESSAGE_MAX - 1] + "…"


def syntax_error(exc: jinja2.TemplateSyntaxError, shown: str | None = None) -> str:
    """`FILE:LINE: message` of a template that does not compile (unknown filters and tests included)."""
    return f"{shown or shown_path(exc.filename or exc.name)}:{exc.lineno}: {clean(exc.message or '')}"


def runtime_error(tpl: jinja2.Template) -> str:
    """`FILE:LINE: Type: message` of the exception being handled, raised while `tpl` rendered; the
    line is the innermost template line (a macro's, when it failed in a macro)."""
    exc = sys.exc_info()[1]
    try:
        tpl.environment.handle_exception()  # re-raises with the template lines in the traceback
    except BaseException as rewritten:  # noqa: BLE001 - it is the same error, with template frames
        exc = rewritten
    if isinstance(exc, jinja2.TemplateSyntaxError):  # a broken template it imports or extends
        return syntax_error(exc)
    where, line = tpl.filename, None
    tb = exc.__traceback__ if exc is not None else None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith(".j2"):
            where, line = name, tb.tb_lineno
        tb = tb.tb_next
    at = f"{shown_path(where)}:{line}" if line else shown_path(where)
    return f"{at}: {type(exc).__name__}: {clean(str(exc))}"


def _unknown_names(env: jinja2.Environment, tree: nodes.Template) -> list[tuple[int, str]]:
    """Filters and tests the template uses that `env` does not have (Jinja defers some to run time)."""
    out = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        if isinstance(node, nodes.Filter) and node.name not in env.filters:
            out.append((node.lineno, f"No filter named '{node.name}'."))
        elif isinstance(node, nodes.Test) and node.name not in env.tests:
            out.append((node.lineno, f"No test named '{node.name}'."))
    return out


def folder_problems(env: jinja2.Environment, folders: Iterable[Folder]) -> list[str]:
    """Every `.j2` file of each folder compiled with `env` (the renderer's): one line per problem."""
    problems: list[str] = []
    seen: set[Path] = set()
    for folder in folders:
        if folder.path in seen:
            continue
        seen.add(folder.path)
        if not folder.path.is_dir():
            problems.append(f"{folder.where}: template folder {folder.shown} not found (looked for {folder.path}); "
                            "create it or fix the path (relative paths are read from the config file's folder)")
            continue
        for file in sorted(folder.path.rglob("*.j2")):
            rel = file.relative_to(folder.path).as_posix()
            shown = f"{folder.shown.rstrip('/')}/{rel}"
            try:
                source = file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{shown}: cannot read ({clean(getattr(exc, 'strerror', None) or exc)})")
                continue
            try:
                tree = env.parse(source, rel, str(file))
                env.compile(tree, rel, str(file))
            except jinja2.TemplateSyntaxError as exc:
                problems.append(syntax_error(exc, shown))
                continue
            problems.extend(f"{shown}:{line}: {msg}" for line, msg in _unknown_names(env, tree))
    return problems


def folders(loaded, renderer) -> list[Folder]:
    """The folders a notification can take templates from: the built-in ones, the renderer's own
    folder when it is another (ALERTROUTER_TEMPLATES), and every route's and role's `templates:`."""
    shipped = renderer.shipped_dir
    out = [Folder("built-in templates", shown_path(shipped), shipped)]
    if Path(renderer.dir).resolve() != shipped:
        out.append(Folder("ALERTROUTER_TEMPLATES", shown_path(renderer.dir), Path(renderer.dir).resolve()))
    out.extend(Folder(where, shown_path(path), Path(path)) for where, _, path in loaded.template_folders)
    return out


def check(loaded, renderer) -> list[str]:
    """Every template problem of this config, one line each."""
    return folder_problems(renderer._env(()), folders(loaded, renderer))


def report_at_startup(loaded, renderer) -> list[str]:
    """Compile every template and log each problem as an error; the router starts anyway (a broken
    template's notifications are sent with the built-in template, see `Renderer.render`)."""
    problems = check(loaded, renderer)
    for p in problems:
        log.error("template problem: %s (until it is fixed, notifications that select it are sent with the "
                  "built-in template; `alertrouter check` lists every problem)", p)
    return problems
