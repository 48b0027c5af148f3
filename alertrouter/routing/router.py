"""Ordered routes: the first match wins unless `continue: true`; the default route catches the rest.

`Router.route(event)` returns the decision and, for each route tried, why it matched or which
matcher failed, so `alertrouter route` can answer "why did (not) I get this?".

Intake does not walk the routes one by one. Matchers are pure functions of one value, so the router
keeps, per matched key, a bit mask of the routes whose matchers on that key accept a given value
(bit i = route i), computed once per distinct value and cached (bounded). An event's matching routes
are the AND of its keys' masks: a few dict look-ups, whatever the number of routes. The trail
(`explain=True`) still walks the routes, for the reasons it prints.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..config import addresses
from ..config.load import LoadedConfig, target
from ..config.matchers import Matcher, compile_match
from ..config.schema import Route
from ..config.types import OWNER_PREFIX, Target
from ..model import Event

DEFAULT_ROUTE = "default"
OWNER_ROUTE = "run-owners"
NOT_ALLOWED = "not an alias nor an allowed domain"
MAX_OWNER_NAMES = 50  # names read from a run's tags: each is parsed, and anyone who starts a run writes them
log = logging.getLogger("alertrouter.routing")


@dataclass(frozen=True, slots=True)
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


@dataclass
class Decision:
    routes: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    trail: list[str] = field(default_factory=list)  # one line per route tried

    @property
    def channels(self) -> list[str]:
        return list(dict.fromkeys(t.channel for t in self.targets))


def compile_routes(routes: list[Route]) -> list[CompiledRoute]:
    """routing.yaml's routes, in order, with their matchers compiled (the loader has checked them)."""
    return [CompiledRoute(name=r.name, roles=tuple(r.roles), matchers=compile_match(r.match)[0],
                          cont=r.continue_, index=i) for i, r in enumerate(routes)]


class MatchTable:
    """Which routes accept an event, as a bit mask, from cached per-key, per-value masks."""

    MAX_VALUES = 4096  # cached values per key; past it the key's cache starts over

    def __init__(self, routes: list[CompiledRoute]):
        self.all = (1 << len(routes)) - 1
        by_key: dict[str, list[tuple[int, Matcher]]] = {}
        for i, r in enumerate(routes):
            for m in r.matchers:
                by_key.setdefault(m.key, []).append((i, m))
        # per key: its (route, matcher) pairs, the mask of routes with a matcher on it, the value cache
        self.keys = [(key, ms, sum({1 << i for i, _ in ms}), {}) for key, ms in by_key.items()]

    def mask(self, event: Event) -> int:
        mask = self.all
        for key, matchers, on_key, cache in self.keys:
            value = event.match_value(key)
            m = cache.get(value)
            if m is None:
                failed = 0
                for i, matcher in matchers:
                    if not matcher.test(value):
                        failed |= 1 << i
                m = self.all & ~(on_key & failed)
                if len(cache) >= self.MAX_VALUES:
                    cache.clear()
                cache[value] = m
            mask &= m
            if not mask:
                break
        return mask


class Router:
    def __init__(self, loaded: LoadedConfig):
        self.loaded = loaded
        self.cfg = loaded.config
        self.routes = compile_routes(self.cfg.routes)
        self.table = MatchTable(self.routes)
        self._targets: dict[tuple[str, tuple[str, ...]], list[Target]] = {}
        self._aliases = self._owner_aliases()
        self._domains = frozenset(self.cfg.run_owners.allowed_domains if self.cfg.run_owners else ())

    def route(self, event: Event, explain: bool = False) -> Decision:
        """The routes, roles and targets for `event`; with `explain`, also why each route did or did
        not match (the trail costs more than the routing, so intake leaves it out)."""
        d = Decision()
        matched: list[tuple[str, tuple[str, ...]]] = []
        if not explain:
            mask = self.table.mask(event)
            while mask:
                low = mask & -mask
                r = self.routes[low.bit_length() - 1]
                matched.append((r.name, r.roles))
                if not r.cont:
                    break
                mask ^= low
        else:
            self._walk(event, d, matched)
        if not matched:
            roles = tuple(self.cfg.default_route.roles)
            matched.append((DEFAULT_ROUTE, roles))
            if explain:
                d.trail.append(f"{DEFAULT_ROUTE}: no route matched; default route" +
                               (f" → {', '.join(roles)}" if roles else " has no roles: nobody is notified"))
        for name, roles in matched:
            d.routes.append(name)
            for role in roles:
                if role not in d.roles:
                    d.roles.append(role)
            d.targets.extend(self._route_targets(name, roles))
        self._owners(event, d)
        if len(matched) > 1 or len(d.targets) > 1:
            d.targets = list(dict.fromkeys(d.targets))
        return d

    def _route_targets(self, name: str, roles: tuple[str, ...]) -> list[Target]:
        key = (name, roles)
        found = self._targets.get(key)
        if found is None:
            found = self._targets[key] = self.targets_for(name, roles)
        return found

    def _walk(self, event: Event, d: Decision, matched: list[tuple[str, tuple[str, ...]]]) -> None:
        """Route by route, with the reason each one did or did not match (for the trail)."""
        for r in self.routes:
            failed = r.check(event)
            if failed is not None:
                actual = event.match_value(failed.key)
                shown = "missing" if actual is None else f'"{actual}"'
                d.trail.append(f"{r.name}: no match: {failed.describe()} (value {shown})")
                continue
            matched.append((r.name, r.roles))
            d.trail.append(f"{r.name}: match" + ("; continue" if r.cont else ""))
            if not r.cont:
                break

    def _owners(self, event: Event, d: Decision) -> None:
        """The run's owners named by its tags, as extra targets: each item a configured alias, or one
        bare address (alertrouter/config/addresses.py) whose domain is allowed, exactly. The owner's role
        carries the checked address, which is what the channel sends to."""
        owners = self.cfg.run_owners
        if owners is None or event.kind not in owners.kinds:
            return
        names = []
        for tag in (owners.tag, owners.submitter_tag):
            if tag and event.labels.get(f"tag.{tag}"):
                names.extend(addresses.split(event.labels[f"tag.{tag}"]))
        if not names:
            return
        found, ignored = [], []
        unread, names = names[MAX_OWNER_NAMES:], names[:MAX_OWNER_NAMES]
        for name in names:
            if name in self._aliases:
                found.extend(self._aliases[name])
                continue
            try:
                address = addresses.parse(name).lower()
            except addresses.AddressError as exc:
                why = f"not an alias nor one bare address: it {exc}" if "@" in name else NOT_ALLOWED
                ignored.append(f"{addresses.shown(name)} ({why})")
                continue
            if addresses.domain(address) in self._domains:
                found.append(address)
            else:
                ignored.append(f"{addresses.shown(name)} ({NOT_ALLOWED})")
        if unread:
            ignored.append(f"{len(unread)} more (at most {MAX_OWNER_NAMES} names are read from a run's tags)")
        if ignored:
            log.warning("run owner(s) ignored for event %s: %s", event.id, ", ".join(ignored),
                        extra={"event_id": event.id})
        found = list(dict.fromkeys(found))
        d.trail.append(f"{OWNER_ROUTE}: " + (", ".join(found) or "nobody")
                       + (f"; ignored {', '.join(ignored)}" if ignored else ""))
        if found:
            d.routes.append(OWNER_ROUTE)
        for address in found:
            role = OWNER_PREFIX + address
            d.roles.append(role)
            d.targets.append(self._target(OWNER_ROUTE, role, owners.channel))

    def _owner_aliases(self) -> dict[str, list[str]]:
        """run_owners.aliases with their ${ENV_VAR}s resolved (a variable may hold several addresses,
        comma-separated) and every address checked; a bad one is left out with a log line that names
        the alias and the variable, not the value."""
        owners = self.cfg.run_owners
        out: dict[str, list[str]] = {}
        for alias, values in (owners.aliases.items() if owners else ()):
            found: list[str] = []
            for i, value in enumerate(values):
                refs, items = addresses.expand(value, self.loaded.env)
                where = f"run_owners.aliases.{alias}[{i}]" + (f" (from {refs})" if refs else "")
                if not items:
                    log.warning("%s: no address (is %s set?); the alias reaches nobody through it", where, refs)
                for item in items:
                    try:
                        found.append(addresses.parse(item).lower())
                    except addresses.AddressError as exc:
                        log.warning("%s: a value %s; not sending to it", where, exc.reason)
            out[alias] = list(dict.fromkeys(found))
        return out

    def _target(self, route: str, role: str, channel: str) -> Target:
        return target(self.loaded, route, role, channel)

    def targets_for(self, route: str, roles) -> list[Target]:
        """Every (role, channel) target of `roles` under the route name given."""
        return list(dict.fromkeys(target(self.loaded, route, role, ch) for role in roles
                                  if role in self.cfg.roles for ch in self.cfg.roles[role].channels))

