"""Patterns the suggestions act on: two rules that fire together (the first, then the second,
within `together_within`), and a rule that notifies in the same hour on many days."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..model import Event
from .findings import Options
from .reading import Notice, Record

SHARED = ("subscription", "resource_group", "resource")  # labels an inhibit rule's `equal` may name


@dataclass
class Pair:
    """`source` fired, then `target` within `together_within`, on `times` occasions."""
    source: str
    target: str
    times: int
    equal: list[str]  # labels both had the same value for, every time
    notices: int  # the target's notices that reached someone while the source fired
    roles: dict[str, int]  # role -> those notices

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def _bursts(firings: list[Event], within: float) -> list[list[Event]]:
    """Firings of one rule cut into bursts: each burst holds the firings within `within` of its first."""
    out: list[list[Event]] = []
    for e in firings:
        if out and (e.time - out[-1][0].time).total_seconds() <= within:
            out[-1].append(e)
        else:
            out.append([e])
    return out


def firing_spans(alerts: list[Event], end: datetime) -> dict[str, list[tuple[float, float]]]:
    """Rule -> (fired, resolved) epochs of each of its alerts (an alert still firing ends at `end`)."""
    open_: dict[str, tuple[str, float]] = {}
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for e in alerts:
        rule = e.labels.get("alert_rule", e.title)
        if e.kind == "alert.fired":
            open_[e.fingerprint] = (rule, e.time.timestamp())
        elif e.fingerprint in open_:
            rule, at = open_.pop(e.fingerprint)
            spans[rule].append((at, e.time.timestamp()))
    for rule, at in open_.values():
        spans[rule].append((at, end.timestamp()))
    return spans


def pairs(record: Record, options: Options) -> list[Pair]:
    """Pairs that fired together `together_min` times or more and whose target still reached someone
    while the source fired, most notices first. Each look is a binary search in a rule's firing
    times or its merged firing spans, so the cost grows with rules and bursts, not with every
    firing of one rule against every firing of another (a month of a busy store took minutes)."""
    alerts = record.alerts()
    firings: dict[str, list[Event]] = defaultdict(list)
    for e in alerts:
        if e.kind == "alert.fired":
            firings[e.labels.get("alert_rule", e.title)].append(e)
    bursts = {rule: _bursts(fs, options.together_within) for rule, fs in firings.items()}
    times = {rule: [e.time for e in fs] for rule, fs in firings.items()}  # by time, as the alerts come
    spans = {rule: _merged(s) for rule, s in firing_spans(alerts, record.end).items()}
    reached: dict[str, list[Notice]] = defaultdict(list)
    for n in record.notices:
        if n.reaches:
            reached[n.rule].append(n)
    within = timedelta(seconds=options.together_within)
    out = []
    for a, a_bursts in bursts.items():
        for b, b_firings in firings.items():
            if a == b:
                continue
            together = []
            for burst in a_bursts:
                t0 = burst[0].time
                # b fired in [t0, t0 + within] (the first of those is the pair's), and not in [t0 - within, t0)
                first_after = bisect_left(times[b], t0)
                if first_after < len(times[b]) and times[b][first_after] <= t0 + within and \
                        bisect_left(times[b], t0 - within) == first_after:
                    together.append((burst[0], b_firings[first_after]))
            if len(together) < options.together_min:
                continue
            equal = [k for k in SHARED if all(x.labels.get(k) and x.labels.get(k) == y.labels.get(k)
                                              for x, y in together)]
            held = [n for n in reached[b] if _inside(spans.get(a, ([], [])), n.at)]
            if held:
                roles: dict[str, int] = defaultdict(int)
                for n in held:
                    roles[n.outcome.role] += 1
                out.append(Pair(a, b, len(together), equal, len(held), dict(roles)))
    return sorted(out, key=lambda p: (-p.notices, -p.times, p.source, p.target))


def _merged(spans: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """The union of closed spans as disjoint ones, by start: (starts, ends)."""
    starts: list[float] = []
    ends: list[float] = []
    for f, r in sorted(spans):
        if starts and f <= ends[-1]:
            ends[-1] = max(ends[-1], r)
        else:
            starts.append(f)
            ends.append(r)
    return starts, ends


def _inside(merged: tuple[list[float], list[float]], at: float) -> bool:
    """Whether `at` is in one of the spans (ends included)."""
    starts, ends = merged
    i = bisect_right(starts, at) - 1
    return i >= 0 and at <= ends[i]


@dataclass
class Recurring:
    """A rule that notified `role` in the same local hour on `days` days of the period."""
    rule: str
    role: str
    route: str
    hour: int
    zone: str
    days: int
    notices: int  # its notices to the role in that hour

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def recurring(record: Record, options: Options) -> list[Recurring]:
    """Per rule, role and route, the hour in which it notified on the most days, when those are
    `recurring_min_days` or more and most of the days it notified at all."""
    zone = ZoneInfo(options.zone)
    by_hour: dict[tuple[str, str, str], dict[int, set]] = defaultdict(lambda: defaultdict(set))
    counts: dict[tuple[str, str, str, int], int] = defaultdict(int)
    all_days: dict[tuple[str, str, str], set] = defaultdict(set)
    for n in record.notices:
        if not n.reaches or n.made_as:
            continue
        local = datetime.fromtimestamp(n.at, zone)
        key = (n.rule, n.outcome.role, n.outcome.route)
        by_hour[key][local.hour].add(local.date())
        all_days[key].add(local.date())
        counts[(*key, local.hour)] += 1
    out = []
    for key, hours in by_hour.items():
        hour, days = max(hours.items(), key=lambda hd: (len(hd[1]), -hd[0]))
        if len(days) >= options.recurring_min_days and len(days) * 2 > len(all_days[key]):
            out.append(Recurring(*key, hour, options.zone, len(days), counts[(*key, hour)]))
    return sorted(out, key=lambda r: (-r.days, -r.notices, r.rule, r.role))
