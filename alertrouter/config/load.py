"""Load routing.yaml: YAML with line numbers → typed config → cross-checked → `LoadedConfig`.

The router compiles the routes of what this returns (routing/router.py); the match language both
use to check and compile matchers is `config/matchers.py`.

Every problem becomes one line `FILE:LINE PATH: what is wrong; how to fix it`, and all problems
are reported at once in a ConfigError.
"""

from __future__ import annotations

import difflib
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from ..errors import ConfigError
from ..schedule import schedule_problem
from ..model import KINDS
from .env import ENV_REF
from .matchers import compile_match
from .schema import CHANNEL_TYPES, Recipients, Role, RoutingConfig
from .types import LOG_CHANNEL, OWNER_PREFIX, Target



@dataclass
class LoadedConfig:
    config: RoutingConfig
    path: str
    warnings: list[str] = field(default_factory=list)
    unresolved: dict[str, list[str]] = field(default_factory=dict)  # channel -> missing env vars
    env: typing.Mapping[str, str] = field(default_factory=lambda: os.environ)  # where ${ENV_VAR}s resolve
    _template_dirs: dict = field(default_factory=dict, repr=False, compare=False)
    # every configured `templates:` folder: (where it is configured, as written, absolute path)
    template_folders: list[tuple[str, str, str]] = field(default_factory=list)

    def template_dirs(self, route: str, role: str) -> list[str]:
        """The route's and the role's template folders (absolute; relative ones are read from
        routing.yaml's folder), looked up once per (route, role)."""
        found = self._template_dirs.get((route, role))
        if found is None:
            cfg = self.config
            route_templates = next((r.templates for r in cfg.routes if r.name == route), cfg.default_route.templates)
            r = self.role(role)
            base = Path(self.path).resolve().parent
            found = [str(Path(d) if Path(d).is_absolute() else base / d)
                     for d in (route_templates, r.templates if r else "") if d]
            self._template_dirs[(route, role)] = found
        return found

    def role(self, name: str) -> Role | None:
        """A configured role, or the implicit role of one run owner (`owner:<address>`)."""
        found = self.config.roles.get(name)
        if found is None and name.startswith(OWNER_PREFIX) and self.config.run_owners is not None:
            # the router checked the address when it made the role; the mail channels check it again
            # and refuse it if it does not pass (a notification stored before a rule tightened)
            return Role(description="run owner", channels=[self.config.run_owners.channel],
                        recipients=Recipients.model_construct(to=[name[len(OWNER_PREFIX):]], cc=[]))
        return found


def target(loaded: LoadedConfig, route: str, role: str, channel: str) -> Target:
    """A target, on the `log` channel instead when the channel's ${ENV_VAR}s are not set."""
    if channel in loaded.unresolved:
        return Target(route, role, LOG_CHANNEL, fallback_from=channel)
    return Target(route, role, channel)


def load(path: str | os.PathLike, env: typing.Mapping[str, str] | None = None) -> LoadedConfig:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found; pass --config PATH or create routing.yaml"]) from None
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read ({exc.strerror})"]) from None
    return loads(text, str(p), env)


def loads(text: str, name: str = "routing.yaml", env: typing.Mapping[str, str] | None = None) -> LoadedConfig:
    env = os.environ if env is None else env
    yaml = YAML(typ="rt")
    try:
        doc = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        raise ConfigError([f"{name}:{line} YAML syntax error: {exc.problem or exc.context}"]) from None
    if doc is None:
        raise ConfigError([f"{name}:1 the file is empty; it needs at least `roles:` and `channels:`"])
    if not isinstance(doc, dict):
        raise ConfigError([f"{name}:1 the top level must be a mapping with roles, channels and routes"])
    loc_line = _Locator(doc)
    try:
        cfg = RoutingConfig.model_validate(_plain(doc))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _clean_loc(doc, err["loc"])
            problems.append(f"{name}:{loc_line.line(loc)} {_path(loc)}: {_message(err, loc, doc)}")
        raise ConfigError(problems) from None

    problems: list[str] = []

    def problem(loc: tuple, msg: str) -> None:
        problems.append(f"{name}:{loc_line.line(loc)} {_path(loc)}: {msg}")

    channel_names = set(cfg.channels) | {LOG_CHANNEL}
    for role_name, role in cfg.roles.items():
        for i, ch in enumerate(role.channels):
            if ch not in channel_names:
                problem(("roles", role_name, "channels", i), f'undefined channel "{ch}"{_suggest(ch, channel_names)}; '
                        "define it under channels: or fix the name")
    seen: dict[str, int] = {}
    for i, route in enumerate(cfg.routes):
        if route.name in seen:
            problem(("routes", i, "name"), f'duplicate route name "{route.name}" (also routes[{seen[route.name]}]); '
                    "route names must be unique")
        seen.setdefault(route.name, i)
        for j, role in enumerate(route.roles):
            if role not in cfg.roles:
                problem(("routes", i, "roles", j), f'undefined role "{role}"{_suggest(role, cfg.roles)}; '
                        "define it under roles: or fix the name")
        _, errors = compile_match(route.match)
        for key, msg in errors:
            problem(("routes", i, "match", key) if key else ("routes", i, "match"), msg)
    for j, role in enumerate(cfg.default_route.roles):
        if role not in cfg.roles:
            problem(("default_route", "roles", j), f'undefined role "{role}"{_suggest(role, cfg.roles)}; '
                    "define it under roles: or fix the name")
    for wname, window in cfg.time_windows.items():
        try:
            ZoneInfo(window.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            problem(("time_windows", wname, "time_zone"), f'unknown time zone "{window.time_zone}"; use an IANA name '
                    'like "Europe/Berlin" or "UTC"')
        for k, rng in enumerate(window.ranges):
            if rng.start >= rng.end:
                problem(("time_windows", wname, "ranges", k), f"start {rng.start} is not before end {rng.end}; "
                        "split a range that crosses midnight in two (22:00–24:00 and 00:00–07:00)")

    def check_windows(loc: tuple, names: list[str], field: str) -> None:
        for k, wname in enumerate(names):
            if wname not in cfg.time_windows:
                problem(loc + (field, k), f'undefined time window "{wname}"{_suggest(wname, cfg.time_windows)}; '
                        "define it under time_windows: or fix the name")

    for role_name, role in cfg.roles.items():
        check_windows(("roles", role_name), role.active_during, "active_during")
        check_windows(("roles", role_name), role.muted_during, "muted_during")
    for i, route in enumerate(cfg.routes):
        check_windows(("routes", i), route.active_during, "active_during")
        check_windows(("routes", i), route.muted_during, "muted_during")
        if route.escalate:
            for j, role in enumerate(route.escalate.to):
                if role not in cfg.roles:
                    problem(("routes", i, "escalate", "to", j), f'undefined role "{role}"{_suggest(role, cfg.roles)}; '
                            "define it under roles: or fix the name")
    for i, rule in enumerate(cfg.inhibit_rules):
        for side in ("source", "target"):
            _, errors = compile_match(getattr(rule, side))
            for key, msg in errors:
                problem(("inhibit_rules", i, side, key), msg)
    if cfg.run_owners is not None:
        owners = cfg.run_owners
        ch = cfg.channels.get(owners.channel)
        if ch is None:
            problem(("run_owners", "channel"), f'undefined channel "{owners.channel}"'
                    f"{_suggest(owners.channel, cfg.channels)}; define it under channels: or fix the name")
        elif ch.type not in ("email", "smtp"):
            problem(("run_owners", "channel"), f'channel "{owners.channel}" is a {ch.type} channel; owners are '
                    "reached by email: name an email or smtp channel")
        for kind in owners.kinds:
            if kind not in KINDS:
                problem(("run_owners", "kinds"), f'unknown kind "{kind}" (expected one of: {", ".join(KINDS)})')
    for k, rule in enumerate(cfg.run_watch.missing if cfg.run_watch else []):
        loc = ("run_watch", "missing", k)
        if (rule.every is None) == (rule.schedule is None):
            problem(loc, 'give either "every" (like 26h) or "schedule" (NCRONTAB) with "grace"')
        if rule.schedule is not None and (msg := schedule_problem(rule.schedule)) is not None:
            problem(loc + ("schedule",), msg)
        try:
            ZoneInfo(rule.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            problem(loc + ("time_zone",), f'unknown time zone "{rule.time_zone}"')
    for dname, digest in cfg.digests.items():
        for j, role in enumerate(digest.roles):
            if role not in cfg.roles:
                problem(("digests", dname, "roles", j), f'undefined role "{role}"{_suggest(role, cfg.roles)}; '
                        "define it under roles: or fix the name")
        try:
            ZoneInfo(digest.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            problem(("digests", dname, "time_zone"), f'unknown time zone "{digest.time_zone}"; use an IANA name '
                    'like "Europe/Berlin" or "UTC"')
        if (msg := schedule_problem(digest.schedule)) is not None:
            problem(("digests", dname, "schedule"), msg)
    if problems:
        raise ConfigError(problems)

    unresolved: dict[str, list[str]] = {}
    warnings: list[str] = []
    for ch_name, ch in cfg.channels.items():
        for fname, value in _string_fields(ch):
            missing = [v for v in ENV_REF.findall(value) if not env.get(v)]
            if missing:
                unresolved.setdefault(ch_name, []).extend(missing)
                warnings.append(
                    f"{name}:{loc_line.line(('channels', ch_name) + fname)} {_path(('channels', ch_name) + fname)}: "
                    f"environment variable {', '.join(missing)} is not set; notifications for channel "
                    f'"{ch_name}" go to the log channel until it is'
                )
    base = Path(name).resolve().parent
    folders = [(f"{name}:{loc_line.line(loc)} {_path(loc)}", d, str(Path(d) if Path(d).is_absolute() else base / d))
               for loc, d in [*((("routes", i, "templates"), r.templates) for i, r in enumerate(cfg.routes)),
                              (("default_route", "templates"), cfg.default_route.templates),
                              *((("roles", n, "templates"), r.templates) for n, r in cfg.roles.items())] if d]
    return LoadedConfig(config=cfg, path=name, warnings=warnings, unresolved=unresolved, env=env,
                        template_folders=folders)


def _string_fields(ch: BaseModel):
    for fname, value in ch:
        if isinstance(value, str):
            yield (fname,), value
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str):
                    yield (fname, k), v
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, str):
                    yield (fname, i), v


# --- YAML positions and friendly messages ---


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


class _Locator:
    """Line (1-based) of the deepest node along a path in a ruamel round-trip document."""

    def __init__(self, doc: Any):
        self.doc = doc

    def line(self, loc: tuple) -> int:
        node, line = self.doc, 1
        for part in loc:
            lc = getattr(node, "lc", None)
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        return line


def _clean_loc(doc: Any, loc: tuple) -> tuple:
    """Drop pydantic's union-tag parts (e.g. 'webhook' in channels.x.webhook.url)."""
    out, node = [], doc
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue
        out.append(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _node(doc: Any, loc: tuple) -> Any:
    for part in loc:
        try:
            doc = doc[part]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _message(err: dict, loc: tuple, doc: Any) -> str:
    t, inp, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if t == "extra_forbidden":
        parent = _node(doc, loc[:-1])
        tag = parent.get("type") if isinstance(parent, dict) else None
        allowed = _allowed_keys(loc[:-1], tag)
        key = str(loc[-1])
        hint = _suggest(key, allowed)
        return f'unknown key "{key}"{hint}' + (f"; allowed: {', '.join(sorted(allowed))}" if allowed else "")
    if t == "list_type":
        return f"expected a list like [a, b], got {_show(inp)}"
    if t == "missing":
        return f'missing required key "{loc[-1]}"'
    if t == "union_tag_invalid":
        return f'unknown channel type "{ctx.get("tag")}" (expected one of: {", ".join(CHANNEL_TYPES)})'
    if t == "union_tag_not_found":
        return f'missing key "type" (one of: {", ".join(CHANNEL_TYPES)})'
    if t == "literal_error":
        return f"invalid value {_show(inp)}: expected {ctx.get('expected')}"
    if t == "too_short":
        return "must not be empty; list at least one"
    msg = err["msg"]
    return f"{msg[0].lower() + msg[1:]}, got {_show(inp)}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _allowed_keys(loc: tuple, tag: Any = None) -> set[str]:
    """Keys a model at `loc` accepts, walking RoutingConfig's annotations."""
    tp: Any = RoutingConfig
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = _field_by_key(tp, str(part))
            if f is None:
                return set()
            tp = f.annotation
            continue
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (dict, list) and args:
            tp = args[-1]
            continue
        if origin is typing.Union:
            named = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)
                     and typing.get_args(a.model_fields.get("type").annotation if "type" in a.model_fields else None)
                     == (part,)]
            if named:
                tp = named[0]
                continue
        return set()
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {f.alias or n for n, f in tp.model_fields.items()}
    if typing.get_origin(tp) is typing.Union:
        for a in typing.get_args(tp):
            if isinstance(a, type) and issubclass(a, BaseModel) and "type" in a.model_fields \
                    and typing.get_args(a.model_fields["type"].annotation) == (tag,):
                return {f.alias or n for n, f in a.model_fields.items()}
        return set().union(*({f.alias or n for n, f in a.model_fields.items()} for a in typing.get_args(tp)
                              if isinstance(a, type) and issubclass(a, BaseModel)))
    return set()


def _unwrap(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Annotated:
        return typing.get_args(tp)[0]
    return tp


def _field_by_key(model: type[BaseModel], key: str):
    for n, f in model.model_fields.items():
        if key in (n, f.alias):
            return f
    return None
