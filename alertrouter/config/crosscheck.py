"""Cross-references in routing.yaml: every name a part refers to (roles, channels, time windows) is
defined, route names are unique, matchers compile, time zones and schedules are real.

It reads what `readable.py` could read, so it runs whether or not the schema found problems and
skips only what a schema error made unreadable. Each problem is (path, message)."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..model import KINDS
from .matchers import compile_match
from .messages import suggest
from .readable import Readable
from .schedule import schedule_problem
from .types import LOG_CHANNEL

Problems = list[tuple[tuple, str]]
_TZ_ADVICE = 'use an IANA name like "Europe/Berlin" or "UTC"'


def _bad_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return True
    return False


def cross_check(readable: Readable) -> Problems:
    cfg, names = readable.config, readable.names
    problems: Problems = []

    def problem(loc: tuple, msg: str) -> None:
        problems.append((loc, msg))

    channel_names = None if names["channels"] is None else names["channels"] | {LOG_CHANNEL}
    role_names, window_names = names["roles"], names["time_windows"]

    def check_roles(loc: tuple, roles: list[str]) -> None:
        for j, role in enumerate(roles):
            if role_names is not None and role not in role_names:
                problem(loc + (j,), f'undefined role "{role}"{suggest(role, role_names)}; '
                        "define it under roles: or fix the name")

    def check_windows(loc: tuple, windows: list[str], field: str) -> None:
        for k, wname in enumerate(windows):
            if window_names is not None and wname not in window_names:
                problem(loc + (field, k), f'undefined time window "{wname}"{suggest(wname, window_names)}; '
                        "define it under time_windows: or fix the name")

    routes = [(i, r) for i, r in enumerate(cfg.routes) if r is not None]
    for role_name, role in cfg.roles.items():
        for i, ch in enumerate(role.channels):
            if channel_names is not None and ch not in channel_names:
                problem(("roles", role_name, "channels", i), f'undefined channel "{ch}"{suggest(ch, channel_names)}; '
                        "define it under channels: or fix the name")
    seen: dict[str, int] = {}
    for i, route in routes:
        if route.name in seen:
            problem(("routes", i, "name"), f'duplicate route name "{route.name}" (also routes[{seen[route.name]}]); '
                    "route names must be unique")
        seen.setdefault(route.name, i)
        check_roles(("routes", i, "roles"), route.roles)
        for key, msg in compile_match(route.match)[1]:
            problem(("routes", i, "match", key) if key else ("routes", i, "match"), msg)
    check_roles(("default_route", "roles"), cfg.default_route.roles)
    for wname, window in cfg.time_windows.items():
        if _bad_zone(window.time_zone):
            problem(("time_windows", wname, "time_zone"), f'unknown time zone "{window.time_zone}"; {_TZ_ADVICE}')
        for k, rng in enumerate(window.ranges):
            if rng.start >= rng.end:
                problem(("time_windows", wname, "ranges", k), f"start {rng.start} is not before end {rng.end}; "
                        "split a range that crosses midnight in two (22:00–24:00 and 00:00–07:00)")
    for role_name, role in cfg.roles.items():
        check_windows(("roles", role_name), role.active_during, "active_during")
        check_windows(("roles", role_name), role.muted_during, "muted_during")
    for i, route in routes:
        check_windows(("routes", i), route.active_during, "active_during")
        check_windows(("routes", i), route.muted_during, "muted_during")
        if route.escalate:
            check_roles(("routes", i, "escalate", "to"), route.escalate.to)
    for i, rule in enumerate(cfg.inhibit_rules):
        for side in ("source", "target") if rule is not None else ():
            for key, msg in compile_match(getattr(rule, side))[1]:
                problem(("inhibit_rules", i, side, key), msg)
    if cfg.run_owners is not None:
        _check_owners(cfg, names["channels"], problem)
    for k, rule in enumerate(cfg.run_watch.missing if cfg.run_watch else []):
        loc = ("run_watch", "missing", k)
        if (rule.every is None) == (rule.schedule is None):
            problem(loc, 'give either "every" (like 26h) or "schedule" (NCRONTAB) with "grace"')
        if rule.schedule is not None and (msg := schedule_problem(rule.schedule)) is not None:
            problem(loc + ("schedule",), msg)
        if _bad_zone(rule.time_zone):
            problem(loc + ("time_zone",), f'unknown time zone "{rule.time_zone}"')
    for dname, digest in cfg.digests.items():
        check_roles(("digests", dname, "roles"), digest.roles)
        if _bad_zone(digest.time_zone):
            problem(("digests", dname, "time_zone"), f'unknown time zone "{digest.time_zone}"; {_TZ_ADVICE}')
        if (msg := schedule_problem(digest.schedule)) is not None:
            problem(("digests", dname, "schedule"), msg)
    return problems


def _check_owners(cfg, channel_names: set[str] | None, problem) -> None:
    owners = cfg.run_owners
    ch = cfg.channels.get(owners.channel)
    if ch is None and (channel_names is None or owners.channel in channel_names):
        pass  # written, but unreadable: its own problem is reported
    elif ch is None:
        problem(("run_owners", "channel"), f'undefined channel "{owners.channel}"'
                f"{suggest(owners.channel, cfg.channels)}; define it under channels: or fix the name")
    elif ch.type not in ("email", "smtp"):
        problem(("run_owners", "channel"), f'channel "{owners.channel}" is a {ch.type} channel; owners are '
                "reached by email: name an email or smtp channel")
    for kind in owners.kinds:
        if kind not in KINDS:
            problem(("run_owners", "kinds"), f'unknown kind "{kind}" (expected one of: {", ".join(KINDS)})')
