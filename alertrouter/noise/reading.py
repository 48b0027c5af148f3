"""What a store holds of a period, read once for the noise report: the source events (what Azure
sent) and every notification made in the period, each with its outcome (it reached its role, or
the stage that held it) and the rule that caused it. Read-only; the outcomes are the replay's
(`replay.outcomes`), so both commands count a notice the same way.

A notification's rule is the alert rule or AML experiment of its event: for the router's own
notices, the rule of the alerts they are made from (a group notice's `alert_rule` label or its
first member's, an escalation's copy of its alert). A budget summary mixes rules: its rule is
"budget summary".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..config.load import LoadedConfig
from ..digest.sources import router_made
from ..model import Event
from ..replay import Recorded, read_period
from ..replay.outcomes import Made, Outcome, Reader

BUDGET_SUMMARY = "budget summary"


def rule_of(e: Event) -> str:
    """The alert rule or experiment that made `e` (see the module's docstring)."""
    if e.fingerprint.startswith("fold:"):
        return BUDGET_SUMMARY
    found = e.labels.get("alert_rule") or e.labels.get("experiment")
    if found:
        return found
    for m in e.members:
        rule = (m.get("labels") or {}).get("alert_rule")
        if rule:
            return rule
    return e.labels.get("budget_name") or e.title or e.kind


@dataclass(frozen=True)
class Notice:
    """One notification of the period: its event, outcome, rule, and when it was made."""
    event: Event
    outcome: Outcome
    rule: str
    at: float  # epoch seconds the notification was made
    made_as: str  # "" for a source event's own notice; else what the router made ("group notice"…)

    @property
    def reaches(self) -> bool:
        return self.outcome.reaches


@dataclass
class Record:
    """A period of the store: source events by time, and every notice made for the period."""
    start: datetime
    end: datetime
    sources: list[Event]
    notices: list[Notice]

    def alerts(self) -> list[Event]:
        """The source alert events (fired and resolved), cost budgets left out, by time."""
        return [e for e in self.sources if e.kind in ("alert.fired", "alert.resolved")
                and e.labels.get("category") != "cost"]

    def notices_of(self, rule: str) -> list[Notice]:
        return [n for n in self.notices if n.rule == rule]


def read(loaded: LoadedConfig, store, start: datetime, end: datetime, period: Recorded | None = None) -> Record:
    """The period [start, end) of `store` (`period`: already read by `read_period`), notifications
    typed by `loaded`'s channels."""
    period = period or read_period(store, start, end)
    sources, made, reader = period.sources, period.made, Reader(loaded)
    notices: list[Notice] = []
    for e in sources:
        ns = [n for n in made.of(e.id) if n.created_at < end.timestamp() + Made.LATE]
        notices += [Notice(e, o, rule_of(e), n.created_at, "") for n, o in zip(ns, reader.outcomes(ns, e))]
    for e, ns in made.others({e.id for e in sources}):
        notices += [Notice(e, o, rule_of(e), n.created_at, router_made(e) if not e.fingerprint.startswith("fold:")
                           else BUDGET_SUMMARY) for n, o in zip(ns, reader.outcomes(ns, e))]
    notices.sort(key=lambda n: (n.at, n.event.id))
    return Record(start, end, sources, notices)
