"""Recorded against replayed: the figures on both sides, and each source event whose outcome
changed, in words ("now pages on-call", "no longer reaches quality-assurance", "now folded into a
summary"), with the route and stage that decided it. Also the events a replay cannot judge, and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..digest.sources import router_made
from ..model import Event
from .outcomes import Figures, Made, Outcome, Reader, count

CAVEAT = ("Recorded outcomes are what the router did under whatever config was in force at the time; "
          "a config changed during the period shows up as changes here.")

_NOW_HELD = {"budget": "now folded into a summary", "group": "now grouped (one notice for the group)",
             "lifecycle": "now held as a run's second end notice", "inhibit": "now held by inhibition",
             "silence": "now held by silence"}


@dataclass
class Change:
    text: str
    role: str
    channels: list[str]
    route: str
    stage: str  # the stage whose decision changed (that holds it now, or held it before); "routing": the routes

    def as_dict(self) -> dict:
        return {"text": self.text, "role": self.role, "channels": self.channels, "route": self.route,
                "stage": self.stage}


@dataclass
class ChangedEvent:
    event: Event
    changes: list[Change]

    def as_dict(self) -> dict:
        return {"event_id": self.event.id, "time": self.event.time.isoformat(), "kind": self.event.kind,
                "title": self.event.title, "changes": [c.as_dict() for c in self.changes]}


@dataclass
class Report:
    start: datetime
    end: datetime
    config: str
    events: int
    recorded: Figures = field(default_factory=Figures)
    replayed: Figures = field(default_factory=Figures)
    changed: list[ChangedEvent] = field(default_factory=list)
    unknowable: list[tuple[Event, str]] = field(default_factory=list)  # (event, why replay cannot judge it)
    notes: list[str] = field(default_factory=lambda: [CAVEAT])

    def as_dict(self) -> dict:
        return {"period": {"from": self.start.isoformat(), "to": self.end.isoformat()}, "config": self.config,
                "source_events": self.events, "recorded": self.recorded.as_dict(),
                "replayed": self.replayed.as_dict(), "changed_events": [c.as_dict() for c in self.changed],
                "not_comparable": [{"event_id": e.id, "time": e.time.isoformat(), "title": e.title, "why": why}
                                   for e, why in self.unknowable],
                "notes": self.notes}


def compare(report: Report, reader: Reader, real_store, scratch, sources: list[Event],
            recorded: Made | None = None) -> Report:
    """Fill `report` from the recorded store (`recorded`: its notifications of the period, read here
    when not given) and the replay's scratch store."""
    source_ids = {e.id for e in sources}
    if recorded is None:
        recorded = Made(real_store, report.start, report.end)
    replayed = Made(scratch, report.start, report.end)
    for e in sources:
        before, after = reader.outcomes(recorded.of(e.id), e), reader.outcomes(replayed.of(e.id), e)
        count(report.recorded, before)
        count(report.replayed, after)
        changes = changes_of(before, after)
        if changes:
            report.changed.append(ChangedEvent(e, changes))
    for figures, made in ((report.recorded, recorded), (report.replayed, replayed)):
        for e, notifications in made.others(source_ids):
            figures.router_notices[made_as(e)] += 1
            count(figures, reader.outcomes(notifications, e))
    report.unknowable.extend(unknowable(sources, real_store, report))
    return report


def made_as(e: Event) -> str:
    """What the router made this event as, for the figures ("group notice", "budget summary"…)."""
    if e.fingerprint.startswith("fold:"):
        return "budget summary"
    return router_made(e)


def unknowable(sources: list[Event], real_store, report: Report) -> list[tuple[Event, str]]:
    """Events whose replay may differ for reasons the store cannot tell: an alert that fired before
    the period (replay does not know it was firing), an escalation acknowledged by someone."""
    fired = {e.fingerprint for e in sources if e.kind == "alert.fired"}
    out = [(e, "its alert fired before the period began: replay does not know it was firing")
           for e in sources if e.kind == "alert.resolved" and e.fingerprint not in fired]
    for e in real_store.events_between(report.start, report.end, ["alert.acknowledged"]):
        if router_made(e) == "acknowledgement":
            out.append((e, "acknowledged by a person: replay does not acknowledge, so its escalation may now fire"))
    return out


def changes_of(before: list[Outcome], after: list[Outcome]) -> list[Change]:
    """The differences, per role and channel, in words; channels of a role that changed alike are joined."""
    old = _by_target(before)
    new = _by_target(after)
    found: dict[tuple[str, str, str, str], list[str]] = {}
    for key in sorted(set(old) | set(new)):
        said = _difference(old.get(key), new.get(key))
        if said is not None:
            text, route, stage = said
            found.setdefault((text, key[0], route, stage), []).append(key[1])
    return [Change(text, role, channels, route, stage) for (text, role, route, stage), channels in found.items()]


def _by_target(outcomes: list[Outcome]) -> dict[tuple[str, str], Outcome]:
    """Per (role, channel), the outcome that counts: one that reaches (a page first), else the first held."""
    out: dict[tuple[str, str], Outcome] = {}
    for o in sorted(outcomes, key=lambda o: (not o.reaches, not o.page, o.route)):
        out.setdefault((o.role, o.channel), o)
    return out


def _difference(old: Outcome | None, new: Outcome | None) -> tuple[str, str, str] | None:
    """(what changed, route, stage) for one role and channel, or None when nothing did."""
    if new is not None and new.reaches:
        if old is not None and old.reaches:
            if new.page != old.page:
                return (f"now pages {new.role}" if new.page else f"no longer pages {new.role}"), new.route, "routing"
            return None
        verb = f"now pages {new.role}" if new.page else f"now reaches {new.role}"
        if old is not None:
            return f"{verb} (was held by {old.stage})", new.route, old.stage
        return verb, new.route, "routing"
    if new is not None:  # held now
        if old is not None and not old.reaches and old.stage == new.stage:
            return None
        text = _NOW_HELD.get(new.stage, f"now held by {new.stage}")
        if new.stage in ("silence", "inhibit"):
            text = f"{text}: {new.reason}"
        if old is not None and not old.reaches:
            text += f" (was held by {old.stage})"
        elif old is not None:
            text += f", no longer reaches {new.role}"
        return text, new.route, new.stage
    if old is None:
        return None
    if not old.reaches:
        return f"no longer routed to {old.role} (was held by {old.stage})", old.route, "routing"
    return f"no longer reaches {old.role}", old.route, "routing"
