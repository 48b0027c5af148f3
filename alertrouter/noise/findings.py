"""The noise report's findings over one `Record`: the rules that notify most, flapping rules,
alerts that resolved before anyone could act, pages per night for the on-call role, and the share
of notices each stage held. Pure: each is computed from the record and the options."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from ..replay.outcomes import HELD_STAGES
from .reading import Record


@dataclass(frozen=True)
class Options:
    """What the report looks for. Durations in seconds; nights are [night_start, night_end) hours in `zone`."""
    flap_within: float = 1800.0  # a rule firing again this soon after it resolved flaps
    flap_min: int = 3  # flaps that make a rule flapping
    act_within: float = 300.0  # an alert resolved this soon after firing resolved before anyone could act
    night_start: int = 22
    night_end: int = 7
    zone: str = "UTC"
    zone_from: str = "UTC (the config names no time zone)"  # where the zone came from, said in the report
    on_call: str = "on-call"
    top: int = 5
    together_within: float = 300.0  # two rules firing this close fired together
    together_min: int = 3  # occasions that make a pair worth an inhibit rule
    recurring_min_days: int = 5  # days a rule notified in the same hour to call it recurring


@dataclass
class RuleNoise:
    """One rule's notices in the period."""
    rule: str
    notices: int  # notices that reached someone
    pages: int
    held: int
    by_target: Counter = field(default_factory=Counter)  # (role, channel) -> notices that reached
    routes: Counter = field(default_factory=Counter)  # route -> notices that reached

    def as_dict(self) -> dict:
        return {"rule": self.rule, "notices": self.notices, "pages": self.pages, "held": self.held,
                "by_role_channel": [{"role": r, "channel": c, "notices": n} for (r, c), n in self.by_target.most_common()],
                "routes": dict(self.routes.most_common())}


def rule_noise(record: Record) -> list[RuleNoise]:
    """Every rule with its notices, the noisiest first (notices that reached, then pages, then name)."""
    rules: dict[str, RuleNoise] = {}
    for n in record.notices:
        r = rules.setdefault(n.rule, RuleNoise(n.rule, 0, 0, 0))
        if n.reaches:
            r.notices += 1
            r.pages += n.outcome.page
            r.by_target[(n.outcome.role, n.outcome.channel)] += 1
            r.routes[n.outcome.route.split("/", 1)[0]] += 1
        else:
            r.held += 1
    return sorted(rules.values(), key=lambda r: (-r.notices, -r.pages, r.rule))


@dataclass
class Flapping:
    rule: str
    resource: str
    flaps: int  # firings that came within flap_within of the same rule resolving on the same resource
    days: int  # distinct UTC days with a flap
    notices: int  # the rule's notices that reached someone in the period

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def flapping(record: Record, options: Options, noise: dict[str, RuleNoise]) -> list[Flapping]:
    """Rules (per resource) that fired again within `flap_within` of resolving, `flap_min` times or more."""
    last_resolved: dict[tuple[str, str], datetime] = {}
    flaps: dict[tuple[str, str], list[datetime]] = defaultdict(list)
    for e in record.alerts():
        key = (e.labels.get("alert_rule", e.title), e.labels.get("resource", ""))
        if e.kind == "alert.resolved":
            last_resolved[key] = e.time
        elif key in last_resolved and (e.time - last_resolved[key]).total_seconds() <= options.flap_within:
            flaps[key].append(e.time)
            del last_resolved[key]
    out = [Flapping(rule, resource, len(ts), len({t.date() for t in ts}),
                    noise[rule].notices if rule in noise else 0)
           for (rule, resource), ts in flaps.items() if len(ts) >= options.flap_min]
    return sorted(out, key=lambda f: (-f.flaps, f.rule, f.resource))


@dataclass
class QuickResolves:
    """A rule's alerts that resolved within `act_within` of firing, and what they cost."""
    rule: str
    alerts: int
    fired: int  # the rule's alerts fired in the period
    longest: float  # seconds: the slowest of these resolutions
    notices: int  # that reached someone for them: their own, and the rule's router notices (group notices,
    # escalations) made between such an alert's firing and `act_within` after its resolution
    pages: int  # of those notices, pages

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def quick_resolves(record: Record, options: Options) -> list[QuickResolves]:
    """Per rule, alerts resolved before anyone could act that still notified someone."""
    fired: dict[str, datetime] = {}
    quick: dict[str, list[tuple[float, float]]] = defaultdict(list)  # rule -> (fired, resolved) epochs
    fired_count: Counter = Counter()
    quick_ids: set[str] = set()
    for e in record.alerts():
        rule = e.labels.get("alert_rule", e.title)
        if e.kind == "alert.fired":
            fired[e.fingerprint] = e.time
            fired_count[rule] += 1
            continue
        at = fired.pop(e.fingerprint, None)
        if at is not None and (e.time - at).total_seconds() <= options.act_within:
            quick[rule].append((at.timestamp(), e.time.timestamp()))
            quick_ids.add(e.fingerprint)
    out = []
    for rule, spans in quick.items():
        cost = [n for n in record.notices_of(rule) if n.reaches and (
            (not n.made_as and n.event.fingerprint in quick_ids)
            or (n.made_as and any(a <= n.at <= b + options.act_within for a, b in spans)))]
        if cost:
            out.append(QuickResolves(rule, len(spans), fired_count[rule], max(b - a for a, b in spans),
                                     len(cost), sum(n.outcome.page for n in cost)))
    return sorted(out, key=lambda q: (-q.notices, -q.pages, q.rule))


@dataclass
class Nights:
    """Pages to the on-call role per night (a night is named by the date it begins on)."""
    role: str
    hours: str  # "22:00-07:00 Europe/Berlin"
    zone_from: str
    per_night: dict[date, int]
    nights: int  # nights in the period

    def as_dict(self) -> dict:
        return {"role": self.role, "hours": self.hours, "zone_from": self.zone_from, "nights": self.nights,
                "nights_paged": len(self.per_night), "pages": sum(self.per_night.values()),
                "worst": max(self.per_night.values(), default=0),
                "per_night": {d.isoformat(): n for d, n in sorted(self.per_night.items())}}


def night_of(at: datetime, options: Options) -> date | None:
    """The date the night holding `at` began on, or None when `at` is not at night."""
    local = at.astimezone(ZoneInfo(options.zone))
    start, end = options.night_start, options.night_end
    if start > end:  # across midnight
        if local.hour >= start:
            return local.date()
        return local.date() - timedelta(days=1) if local.hour < end else None
    return local.date() if start <= local.hour < end else None


def nights(record: Record, options: Options) -> Nights:
    per: Counter = Counter()
    for n in record.notices:
        if n.reaches and n.outcome.page and n.outcome.role == options.on_call:
            night = night_of(datetime.fromtimestamp(n.at, ZoneInfo("UTC")), options)
            if night is not None:
                per[night] += 1
    first = record.start.astimezone(ZoneInfo(options.zone)).date()
    last = record.end.astimezone(ZoneInfo(options.zone)).date()
    hours = f"{options.night_start:02d}:00-{options.night_end:02d}:00 {options.zone}"
    return Nights(options.on_call, hours, options.zone_from, dict(per), max(1, (last - first).days))


def held_share(record: Record) -> dict[str, dict]:
    """Per stage, the notices it held and their share of all notices made ("reached": those that went out)."""
    counts = Counter(n.outcome.stage or "reached" for n in record.notices)
    total = sum(counts.values())
    order = ["reached", *HELD_STAGES, *sorted(set(counts) - {"reached", *HELD_STAGES})]
    return {s: {"notices": counts.get(s, 0), "share": counts.get(s, 0) / total if total else 0.0}
            for s in order if s in counts or s in HELD_STAGES}
