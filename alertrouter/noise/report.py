"""The noise report of one period: every finding and the suggestions for the top offenders, as one
object (`NoiseReport`, `as_dict()` for JSON), built from the store and the loaded config."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from ..config.load import LoadedConfig
from ..replay import Recorded
from .findings import (Flapping, Nights, Options, QuickResolves, RuleNoise, flapping, held_share, nights,
                       quick_resolves, rule_noise)
from .patterns import Pair, Recurring, firing_spans, pairs, recurring
from .reading import BUDGET_SUMMARY, Record, read
from .suggest import Suggestion, group_wait, inhibit, mute


@dataclass
class NoiseReport:
    start: datetime
    end: datetime
    config: str
    options: Options
    source_events: int
    notices: int  # notices made in the period (reached or held)
    top: list[RuleNoise]
    flapping: list[Flapping]
    quick: list[QuickResolves]
    nights: Nights
    held: dict[str, dict]
    pairs: list[Pair]
    recurring: list[Recurring]
    suggestions: list[Suggestion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        o = self.options
        return {"period": {"from": self.start.isoformat(), "to": self.end.isoformat()}, "config": self.config,
                "options": {"flap_within_s": o.flap_within, "flap_min": o.flap_min, "act_within_s": o.act_within,
                            "night": f"{o.night_start:02d}-{o.night_end:02d}", "zone": o.zone,
                            "zone_from": o.zone_from, "on_call": o.on_call, "top": o.top},
                "source_events": self.source_events, "notices": self.notices,
                "top_rules": [r.as_dict() for r in self.top], "flapping": [f.as_dict() for f in self.flapping],
                "resolved_before_action": [q.as_dict() for q in self.quick],
                "pages_per_night": self.nights.as_dict(), "held_by_stage": self.held,
                "fired_together": [p.as_dict() for p in self.pairs],
                "recurring": [r.as_dict() for r in self.recurring],
                "suggestions": [s.as_dict() for s in self.suggestions], "notes": self.notes}


def zone_of(loaded: LoadedConfig) -> tuple[str, str]:
    """The config's time zone and where it comes from: its time windows', else its digests', else UTC."""
    cfg = loaded.config
    for name, w in cfg.time_windows.items():
        return w.time_zone, f"{w.time_zone} (the zone of time window {name})"
    for name, d in cfg.digests.items():
        return d.time_zone, f"{d.time_zone} (the zone of digest {name})"
    return "UTC", "UTC (the config names no time zone)"


def options_for(loaded: LoadedConfig, **given) -> Options:
    """The default options with the config's zone, then what was given (None: the default)."""
    zone, where = zone_of(loaded)
    o = Options(zone=zone, zone_from=where)
    return replace(o, **{k: v for k, v in given.items() if v is not None})


def _label_of(record: Record, rule: str) -> str:
    """The label a route matches `rule` on: alert_rule for an alert's, experiment for a run's."""
    for n in record.notices_of(rule):
        if n.event.labels.get("alert_rule") == rule:
            return "alert_rule"
        if n.event.labels.get("experiment") == rule:
            return "experiment"
    return ""


def suggestions(loaded: LoadedConfig, record: Record, report: NoiseReport, text: str) -> list[Suggestion]:
    """For the top offenders: group_wait for flapping and quickly resolving rules, an inhibit rule per
    pair fired together, a mute per recurring hour; at most `top` of each kind."""
    o, out = report.options, []
    noise = {r.rule: r for r in rule_noise(record)}
    spans = firing_spans(record.alerts(), record.end)
    flaps = {f.rule: f for f in report.flapping}
    made = []
    for q in report.quick:  # most of its alerts resolve before anyone can act: wait longer than they last
        if q.alerts * 2 < q.fired or q.rule not in noise or q.rule == BUDGET_SUMMARY:
            continue
        f = flaps.get(q.rule)
        why = (f"{q.rule} flapped {f.flaps} times on {f.days} days on {f.resource}; " if f else "") + \
            (f"{q.alerts} of its {q.fired} alerts resolved within {q.longest:g} s, yet cost {q.notices} notices")
        s = group_wait(loaded, q.rule, noise[q.rule], q.longest, spans.get(q.rule, []), record, text, why)
        if s is not None:
            made.append(s)
    out += sorted(made, key=lambda s: -s.claim.count)[:o.top]
    out += [inhibit(p) for p in report.pairs[:o.top]]
    muted = []
    for r in report.recurring:
        label = _label_of(record, r.rule)
        s = mute(loaded, r, label, text) if label and r.rule != BUDGET_SUMMARY else None
        if s is not None:
            muted.append(s)
    return out + muted[:o.top]


def build(loaded: LoadedConfig, store, start: datetime, end: datetime, options: Options | None = None,
          text: str | None = None, config_name: str = "", period: Recorded | None = None) -> NoiseReport:
    """The report of [start, end) in `store` under `loaded` (whose text, for the snippets, is read
    from its file unless given; `period`: the period already read, which `verify` then replays).
    The store is only read."""
    o = options or options_for(loaded)
    record = read(loaded, store, start, end, period)
    noise = rule_noise(record)
    report = NoiseReport(start, end, config_name or str(loaded.path), o, len(record.sources), len(record.notices),
                         noise[:o.top], flapping(record, o, {r.rule: r for r in noise}), quick_resolves(record, o),
                         nights(record, o), held_share(record), pairs(record, o), recurring(record, o))
    if text is None:
        path = Path(loaded.path)
        text = path.read_text(encoding="utf-8") if path.is_file() else None
    if text is None:
        report.notes.append(f"no suggestions: {loaded.path} could not be read for the snippets")
    else:
        report.suggestions = suggestions(loaded, record, report, text)
    return report
