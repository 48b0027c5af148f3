"""Suggestions for the top offenders, each a change to routing.yaml that `replay` can try:

    group_wait   a flapping rule, or one whose alerts resolve before anyone can act, on a grouped
                 route: wait longer than its alerts last before the group's first notice (a group
                 whose alerts all resolved inside group_wait notifies nobody)
    inhibit      a pair that fired together N times: hold the second while the first fires
    mute         a rule that notifies a role in the same hour on most days: that rule's notices
                 on that route wait until the hour is over (muted_during a new time window)

Each says what it reduces (a `Claim`, estimated from the record), carries the exact snippet to
paste, and edits a round-trip YAML document the same way (`apply`), so the snippet, the applied
config and what `replay` tries are one change. `verify.py` replays it.
"""

from __future__ import annotations

import copy
import io
import re
from dataclasses import dataclass, field
from typing import Callable

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString as Quoted

from ..config.load import LoadedConfig
from ..config.syntax import read_yaml
from .findings import RuleNoise
from .patterns import Pair, Recurring
from .reading import Record

WAITS = (("1m", 60), ("2m", 120), ("3m", 180), ("5m", 300), ("10m", 600), ("15m", 900), ("30m", 1800), ("1h", 3600))


@dataclass
class Claim:
    """What a suggestion reduces: `count` fewer `what` ("notifications", "pages", or
    "notifications during <window>") to `role`."""
    role: str
    what: str
    count: int

    def text(self) -> str:
        return f"-{self.count} {self.what} to {self.role}"


@dataclass
class Suggestion:
    kind: str  # group_wait | inhibit | mute
    rule: str
    why: str
    claim: Claim
    snippet: str
    edit: Callable[[CommentedMap], None] = field(repr=False)
    measured: int | None = None  # the reduction replay found (verify.py), when it was asked

    def as_dict(self) -> dict:
        return {"kind": self.kind, "rule": self.rule, "why": self.why, "claim": self.claim.text(),
                "reduces": {"role": self.claim.role, "what": self.claim.what, "by": self.claim.count},
                "snippet": self.snippet, "replay_measured": self.measured}


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.indent(mapping=2, sequence=4, offset=2)
    y.width = 100
    return y


def dump(node) -> str:
    out = io.StringIO()
    _yaml().dump(node, out)
    return out.getvalue()


def apply(text: str, suggestion: Suggestion, name: str = "routing.yaml") -> str:
    """`text` (a routing.yaml) with the suggestion made, comments and the rest kept."""
    doc = read_yaml(text, name)
    suggestion.edit(doc)
    return dump(doc)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "rule"


def _route(doc: CommentedMap, name: str) -> CommentedMap:
    return next(r for r in doc["routes"] if r.get("name") == name)


def _flow(d: dict) -> CommentedMap:
    m = CommentedMap(d)
    m.fa.set_flow_style()
    return m


def _seq(items: list) -> CommentedSeq:
    s = CommentedSeq(items)
    s.fa.set_flow_style()
    return s


def group_wait(loaded: LoadedConfig, rule: str, noise: RuleNoise, longest: float, spans: list[tuple[float, float]],
               record: Record, text: str, why: str) -> Suggestion | None:
    """Raise group_wait, on the grouped route that sends most of `rule`'s notices, above `longest`
    (how long its short alerts last), so a group whose alerts all resolved by then notifies nobody."""
    routes = {r.name: r for r in loaded.config.routes}
    grouped = [(n, r) for r, n in noise.routes.most_common() if r in routes and routes[r].group_by is not None]
    if not grouped:
        return None
    route = routes[grouped[0][1]]
    wait = next(((w, s) for w, s in WAITS if s >= longest + 60 and s > route.group_wait), None)
    if wait is None:
        return None
    cut = [n for n in record.notices_of(rule) if n.reaches and n.made_as == "group notice"
           and n.outcome.route.split("/", 1)[0] == route.name
           and any(a <= n.at <= b + route.group_interval and b - a < wait[1] for a, b in spans)]
    if not cut:
        return None
    roles: dict[str, int] = {}
    for n in cut:
        roles[n.outcome.role] = roles.get(n.outcome.role, 0) + 1
    role = max(roles, key=lambda r: (roles[r], r))

    def edit(d: CommentedMap) -> None:
        _route(d, route.name)["group_wait"] = wait[0]

    doc = read_yaml(text, "routing.yaml")
    edit(doc)
    snippet = (f"# in routes:, the route {route.name} (group_wait was {_seconds(route.group_wait)})\n"
               + dump(CommentedMap(routes=CommentedSeq([_route(doc, route.name)]))))
    return Suggestion("group_wait", rule, why, Claim(role, "notifications", roles[role]), snippet, edit)


def _seconds(s: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if s >= size and s % size == 0:
            return f"{int(s // size)}{unit}"
    return f"{s:g}s"


def inhibit(pair: Pair) -> Suggestion:
    """An inhibit rule: while `pair.source` fires, hold `pair.target` (on the labels they shared)."""
    rule = CommentedMap(name=f"{_slug(pair.source)}-holds-{_slug(pair.target)}",
                        source=_flow({"alert_rule": pair.source}), target=_flow({"alert_rule": pair.target}),
                        equal=_seq(list(pair.equal)))

    def edit(d: CommentedMap) -> None:
        if d.get("inhibit_rules") is None:
            d["inhibit_rules"] = CommentedSeq()
        d["inhibit_rules"].append(rule)

    role = max(pair.roles, key=lambda r: (pair.roles[r], r))
    why = (f"{pair.target} fired within minutes after {pair.source} on {pair.times} occasions; "
           f"{pair.notices} of its notices reached people while {pair.source} fired")
    snippet = "# add to inhibit_rules:\n" + dump(CommentedMap(inhibit_rules=CommentedSeq([rule])))
    return Suggestion("inhibit", pair.target, why, Claim(role, "notifications", pair.roles[role]), snippet, edit)


def mute(loaded: LoadedConfig, r: Recurring, label: str, text: str) -> Suggestion | None:
    """`r.rule`'s notices on `r.route` wait while its usual hour lasts: a time window, and the route
    split in two (the rule's part muted during the window, the rest as it was). Only for a route
    whose one role is the one notified, that does not match on `label` already."""
    route = next((x for x in loaded.config.routes if x.name == r.route), None)
    if route is None or label in route.match or route.roles != [r.role]:
        return None
    window = f"{_slug(r.rule)}-{r.hour:02d}h"
    if window in loaded.config.time_windows or any(x.name == f"{r.route}-{_slug(r.rule)}" for x in loaded.config.routes):
        return None
    span = _flow({"start": Quoted(f"{r.hour:02d}:00"), "end": Quoted(f"{r.hour + 1:02d}:00")})  # 23 -> "24:00"
    tw = CommentedMap(time_zone=r.zone, ranges=CommentedSeq([span]))

    def split(d: CommentedMap) -> tuple[CommentedMap, CommentedMap]:
        original = _route(d, r.route)
        part = CommentedMap()
        for k, v in original.items():
            part[k] = copy.deepcopy(v)
        part["name"] = f"{r.route}-{_slug(r.rule)}"
        match = copy.deepcopy(dict(original.get("match") or {}))
        part["match"] = CommentedMap({**match, label: r.rule})
        part["muted_during"] = _seq([*(original.get("muted_during") or []), window])
        original["match"] = CommentedMap({**copy.deepcopy(match), label: _flow({"not": r.rule})})
        return part, original

    def edit(d: CommentedMap) -> None:
        if d.get("time_windows") is None:
            d["time_windows"] = CommentedMap()
        d["time_windows"][window] = tw
        at = next(i for i, x in enumerate(d["routes"]) if x.get("name") == r.route)
        part, _ = split(d)
        d["routes"].insert(at, part)

    scratch = read_yaml(text, "routing.yaml")
    part, original = split(scratch)
    snippet = (f"# add to time_windows:\n{dump(CommentedMap({window: tw}))}"
               f"# in routes:, replace the route {r.route} with these two\n"
               + dump(CommentedMap(routes=CommentedSeq([part, original]))))
    why = (f"{r.rule} notified {r.role} between {r.hour:02d}:00 and {r.hour + 1:02d}:00 {r.zone} on {r.days} days "
           f"({r.notices} notices); they would wait until the hour is over")
    hour = f"{r.hour:02d}:00-{r.hour + 1:02d}:00 {r.zone}"
    return Suggestion("mute", r.rule, why, Claim(r.role, f"notifications during {hour}", r.notices), snippet, edit)
