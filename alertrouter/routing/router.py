"""Ordered routes: the first match wins unless `continue: true`; the default route catches the rest.

`Router.route(event)` returns the decision and, for each route tried, why it matched or which
matcher failed, so `alertrouter route` can answer "why did (not) I get this?".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from ..config.load import LOG_CHANNEL, OWNER_PREFIX, LoadedConfig
from ..model import Event
from .matchers import Matcher

DEFAULT_ROUTE = "default"
OWNER_ROUTE = "run-owners"
log = logging.getLogger("alertrouter.routing")


@dataclass(frozen=True)
class CompiledRoute:
    name: str
    roles: tuple[str, ...]
    matchers: list[Matcher]
    cont: bool
    index: int

    def check(self, event: Event) -> Matcher | None:
        """The first matcher that fails, or None when the route matches."""
        for m in self.matchers:
            if not m.test(event.match_value(m.key)):
                return m
        return None


@dataclass(frozen=True)
class Target:
    route: str
    role: str
    channel: str
    fallback_from: str = ""  # the configured channel this replaced (its environment variables are not set)


@dataclass
class Decision:
    routes: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    trail: list[str] = field(default_factory=list)  # one line per route tried

    @property
    def channels(self) -> list[str]:
        return list(dict.fromkeys(t.channel for t in self.targets))


class Router:
    def __init__(self, loaded: LoadedConfig):
        self.loaded = loaded
        self.cfg = loaded.config
        self.routes = loaded.routes

    def route(self, event: Event, explain: bool = False) -> Decision:
        """The routes, roles and targets for `event`; with `explain`, also why each route did or did
        not match (the trail costs more than the routing, so intake leaves it out)."""
        d = Decision()
        matched: list[tuple[str, tuple[str, ...]]] = []
        for r in self.routes:
            failed = r.check(event)
            if failed is not None:
                if explain:
                    actual = event.match_value(failed.key)
                    shown = "missing" if actual is None else f'"{actual}"'
                    d.trail.append(f"{r.name}: no match: {failed.describe()} (value {shown})")
                continue
            matched.append((r.name, r.roles))
            if explain:
                d.trail.append(f"{r.name}: match" + ("; continue" if r.cont else ""))
            if not r.cont:
                break
        if not matched:
            roles = tuple(self.cfg.default_route.roles)
            matched.append((DEFAULT_ROUTE, roles))
            d.trail.append(f"{DEFAULT_ROUTE}: no route matched; default route" +
                           (f" → {', '.join(roles)}" if roles else " has no roles: nobody is notified"))
        for name, roles in matched:
            d.routes.append(name)
            for role in roles:
                if role not in d.roles:
                    d.roles.append(role)
                for ch in self.cfg.roles[role].channels:
                    d.targets.append(self._target(name, role, ch))
        self._owners(event, d)
        d.targets = list(dict.fromkeys(d.targets))
        return d

    def _owners(self, event: Event, d: Decision) -> None:
        """The run's owners named by its tags (aliases and allowed domains only), as extra targets."""
        owners = self.cfg.run_owners
        if owners is None or event.kind not in owners.kinds:
            return
        names = []
        for tag in (owners.tag, owners.submitter_tag):
            if tag and event.labels.get(f"tag.{tag}"):
                names.extend(n.strip() for n in re.split(r"[,;\s]+", event.labels[f"tag.{tag}"]) if n.strip())
        if not names:
            return
        addresses, ignored = [], []
        domains = {x.lower().lstrip("@") for x in owners.allowed_domains}
        for name in names:
            if name in owners.aliases:
                addresses.extend(owners.aliases[name])
            elif "@" in name and name.rsplit("@", 1)[1].lower() in domains:
                addresses.append(name.lower())
            else:
                ignored.append(name)
        if ignored:
            log.warning("run owner(s) ignored for event %s: %s (not an alias nor an allowed domain)", event.id,
                        ", ".join(ignored), extra={"event_id": event.id})
        addresses = list(dict.fromkeys(addresses))
        d.trail.append(f"{OWNER_ROUTE}: " + (", ".join(addresses) or "nobody")
                       + (f"; ignored {', '.join(ignored)} (not an alias nor an allowed domain)" if ignored else ""))
        if addresses:
            d.routes.append(OWNER_ROUTE)
        for address in addresses:
            role = OWNER_PREFIX + address
            d.roles.append(role)
            d.targets.append(self._target(OWNER_ROUTE, role, owners.channel))

    def _target(self, route: str, role: str, channel: str) -> Target:
        return target(self.loaded, route, role, channel)

    def targets_for(self, route: str, roles) -> list[Target]:
        """Every (role, channel) target of `roles` under the route name given."""
        return list(dict.fromkeys(target(self.loaded, route, role, ch) for role in roles
                                  if role in self.cfg.roles for ch in self.cfg.roles[role].channels))


def target(loaded: LoadedConfig, route: str, role: str, channel: str) -> Target:
    """A target, on the `log` channel instead when the channel's ${ENV_VAR}s are not set."""
    if channel in loaded.unresolved:
        return Target(route, role, LOG_CHANNEL, fallback_from=channel)
    return Target(route, role, channel)
