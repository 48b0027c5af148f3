"""Load routing.yaml: YAML with line numbers → typed config → cross-checked → `LoadedConfig`.

The router compiles the routes of what this returns (routing/router.py); the match language both
use to check and compile matchers is `config/matchers.py`.

Every problem becomes one line `FILE:LINE PATH: what is wrong; how to fix it`, and all problems
are reported at once in a ConfigError.
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ValidationError
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError

from ..errors import ConfigError
from .schedule import schedule_problem
from ..model import KINDS
from .env import ENV_REF
from .matchers import compile_match
from .messages import Locator, clean_loc, message, path_of, plain, suggest
from .schema import Recipients, Role, RoutingConfig
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
    loc_line = Locator(doc)
    try:
        cfg = RoutingConfig.model_validate(plain(doc))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = clean_loc(doc, err["loc"])
            problems.append(f"{name}:{loc_line.line(loc)} {path_of(loc)}: {message(err, loc, doc)}")
        raise ConfigError(problems) from None

    problems: list[str] = []

    def problem(loc: tuple, msg: str) -> None:
        problems.append(f"{name}:{loc_line.line(loc)} {path_of(loc)}: {msg}")

    channel_names = set(cfg.channels) | {LOG_CHANNEL}
    for role_name, role in cfg.roles.items():
        for i, ch in enumerate(role.channels):
            if ch not in channel_names:
                problem(("roles", role_name, "channels", i), f'undefined channel "{ch}"{suggest(ch, channel_names)}; '
                        "define it under channels: or fix the name")
    seen: dict[str, int] = {}
    for i, route in enumerate(cfg.routes):
        if route.name in seen:
            problem(("routes", i, "name"), f'duplicate route name "{route.name}" (also routes[{seen[route.name]}]); '
                    "route names must be unique")
        seen.setdefault(route.name, i)
        for j, role in enumerate(route.roles):
            if role not in cfg.roles:
                problem(("routes", i, "roles", j), f'undefined role "{role}"{suggest(role, cfg.roles)}; '
                        "define it under roles: or fix the name")
        _, errors = compile_match(route.match)
        for key, msg in errors:
            problem(("routes", i, "match", key) if key else ("routes", i, "match"), msg)
    for j, role in enumerate(cfg.default_route.roles):
        if role not in cfg.roles:
            problem(("default_route", "roles", j), f'undefined role "{role}"{suggest(role, cfg.roles)}; '
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
                problem(loc + (field, k), f'undefined time window "{wname}"{suggest(wname, cfg.time_windows)}; '
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
                    problem(("routes", i, "escalate", "to", j), f'undefined role "{role}"{suggest(role, cfg.roles)}; '
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
                    f"{suggest(owners.channel, cfg.channels)}; define it under channels: or fix the name")
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
                problem(("digests", dname, "roles", j), f'undefined role "{role}"{suggest(role, cfg.roles)}; '
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
                    f"{name}:{loc_line.line(('channels', ch_name) + fname)} {path_of(('channels', ch_name) + fname)}: "
                    f"environment variable {', '.join(missing)} is not set; notifications for channel "
                    f'"{ch_name}" go to the log channel until it is'
                )
    base = Path(name).resolve().parent
    folders = [(f"{name}:{loc_line.line(loc)} {path_of(loc)}", d, str(Path(d) if Path(d).is_absolute() else base / d))
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
