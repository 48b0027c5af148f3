"""Load routing.yaml: YAML with line numbers (syntax.py) → typed config → cross-checked
(crosscheck.py, over what readable.py can read) → warnings (readiness.py) → `LoadedConfig`.

The router compiles the routes of what this returns (routing/router.py); the match language both
use to check and compile matchers is `config/matchers.py`.

Every problem becomes one line `FILE:LINE PATH: what is wrong; how to fix it`, and all problems
(schema and cross-reference) are reported at once in a ConfigError, or in a `Review` for `check`.
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from ..errors import ConfigError
from .crosscheck import cross_check
from .messages import Locator, clean_loc, message, path_of, plain
from .readable import Readable, salvage
from .readiness import readiness
from .schema import Recipients, Role, RoutingConfig
from .syntax import read_yaml
from .types import LOG_CHANNEL, OWNER_PREFIX, Target


@dataclass
class LoadedConfig:
    config: RoutingConfig
    path: str
    warnings: list[str] = field(default_factory=list)
    unresolved: dict[str, list[str]] = field(default_factory=dict)  # channel -> missing env vars
    # (role, email channel) -> missing env vars: the role's email through it would reach nobody
    unaddressed: dict[tuple[str, str], list[str]] = field(default_factory=dict)
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
    """A target, on the `log` channel instead when the channel's ${ENV_VAR}s are not set, or when the
    role's email through it would reach nobody (its recipients' ${ENV_VAR}s are not set)."""
    if channel in loaded.unresolved or (role, channel) in loaded.unaddressed:
        return Target(route, role, LOG_CHANNEL, fallback_from=channel)
    return Target(route, role, channel)


def load(path: str | os.PathLike, env: typing.Mapping[str, str] | None = None) -> LoadedConfig:
    return loads(_read(Path(path)), str(path), env)


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found; pass --config PATH or create routing.yaml"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{p}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                           "save the file as UTF-8"]) from None
    except OSError as exc:
        raise ConfigError([f"{p}: cannot read ({exc.strerror})"]) from None


def loads(text: str, name: str = "routing.yaml", env: typing.Mapping[str, str] | None = None) -> LoadedConfig:
    """The loaded config, or ConfigError with every problem."""
    found = review(text, name, env)
    if found.problems:
        raise ConfigError(found.problems)
    return found.loaded


@dataclass
class Review:
    """Everything `check` reports about one routing.yaml: every problem (schema and cross-reference,
    found in one pass), every warning (for what could be read), and the config when it has no problem."""

    problems: list[str]
    warnings: list[str]
    loaded: LoadedConfig | None


def review_file(path: str | os.PathLike, env: typing.Mapping[str, str] | None = None) -> Review:
    """`review` of a file; a file that cannot be read, or is not YAML, is its one problem."""
    try:
        return review(_read(Path(path)), str(path), env)
    except ConfigError as exc:
        return Review(exc.problems, [], None)


def review(text: str, name: str = "routing.yaml", env: typing.Mapping[str, str] | None = None) -> Review:
    """Schema problems, then cross-reference problems, then warnings, all at once. The
    cross-checks and warnings read what the schema errors left readable (config/readable.py); a YAML
    syntax error, which leaves nothing readable, is the one problem reported alone."""
    env = os.environ if env is None else env
    doc = read_yaml(text, name)
    loc_line = Locator(doc)

    def said(loc: tuple, msg: str) -> str:
        return f"{name}:{loc_line.line(loc)} {path_of(loc)}: {msg}"

    problems: list[str] = []
    try:
        readable = Readable.of(RoutingConfig.model_validate(plain(doc)))
    except ValidationError as exc:
        for err in exc.errors():
            loc = clean_loc(doc, err["loc"])
            problems.append(said(loc, message(err, loc, doc)))
        readable = salvage(plain(doc))
    problems += [said(loc, msg) for loc, msg in cross_check(readable)]
    cfg = readable.config
    ready = readiness(cfg, env, name, loc_line)
    problems += ready.problems
    if problems:
        return Review(problems, ready.warnings, None)
    base = Path(name).resolve().parent
    folders = [(f"{name}:{loc_line.line(loc)} {path_of(loc)}", d, str(Path(d) if Path(d).is_absolute() else base / d))
               for loc, d in [*((("routes", i, "templates"), r.templates) for i, r in enumerate(cfg.routes)),
                              (("default_route", "templates"), cfg.default_route.templates),
                              *((("roles", n, "templates"), r.templates) for n, r in cfg.roles.items())] if d]
    loaded = LoadedConfig(config=cfg, path=name, warnings=ready.warnings, unresolved=ready.unresolved,
                          unaddressed=ready.unaddressed, env=env, template_folders=folders)
    return Review([], ready.warnings, loaded)
