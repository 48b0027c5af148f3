"""The stages that decide per target, and the one that acts after the verdicts:

    GroupStage        on a route with `group_by` the target joins a group (the group is notified)
    WindowStage       outside `active_during` / inside `muted_during` windows it waits (deferred)
    BudgetStage       over its channel's notices-per-minute budget it is folded into the minute's
                      summary (pages never are)
    EscalationStage   after the verdicts: a route with `escalate` schedules (or, on resolve, stops)
                      the escalation of the alert

Their state functions live beside them (group.py, windows.py, budget.py, escalate.py).
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..config.load import LoadedConfig
from ..config.types import Target
from . import budget, escalate, group, windows
from .stage import Case, Stage, Verdict


class NextFlush:
    """When the next group notice this process knows of is due (set by intake and by the periodic
    pass), so the dispatcher flushes it on time rather than at its next once-a-second tick."""

    def __init__(self):
        self.at: float | None = None

    def offer(self, at: float | None) -> None:
        if at is not None and (self.at is None or at < self.at):
            self.at = at


class GroupStage(Stage):
    name = "group"

    def __init__(self, loaded: LoadedConfig, store, next_flush: NextFlush):
        self.routes = {r.name: r for r in loaded.config.routes}
        self.store, self.next_flush = store, next_flush

    def decide(self, case: Case, kept: list[Verdict]) -> list[Verdict]:
        out, added = [], set()
        for v in kept:
            route = self.routes.get(v.target.route)
            if route is None or route.group_by is None:
                out.append(v)
                continue
            labels = group.group_labels(case.event, route.group_by)
            key = group.group_key(v.target, labels)
            if case.apply and key not in added:  # two targets can share a group (channels unset: both log)
                added.add(key)
                self.next_flush.offer(group.add(self.store, key, v.target, labels, case.event, route.group_wait,
                                                route.group_interval, case.now))
            out.append(v.held(self.name, f"grouped into {key}", action="group", group=key))
        return out


class WindowStage(Stage):
    name = "window"

    def __init__(self, loaded: LoadedConfig):
        self.loaded = loaded
        self.routes = {r.name: r for r in loaded.config.routes}

    def decide(self, case: Case, kept: list[Verdict]) -> list[Verdict]:
        at = datetime.fromtimestamp(case.now, timezone.utc)
        return [self.verdict(v.target, at) for v in kept]

    def verdict(self, t: Target, at: datetime) -> Verdict:
        """Send now, or wait for the role's and route's time windows (also for the periodic
        pass's notices: group notices, summaries, escalations)."""
        route = self.routes.get(t.route.split("/", 1)[0])
        role = self.loaded.role(t.role)
        muted_names = [*role.muted_during, *(route.muted_during if route else ())]
        active_names = [*role.active_during, *(route.active_during if route else ())]
        if not muted_names and not active_names:
            return Verdict(t, "send")
        cfg = self.loaded.config
        until = windows.wait_until(at, [cfg.time_windows[w] for w in muted_names],
                                   [cfg.time_windows[w] for w in active_names])
        if until is None:
            return Verdict(t, "send")
        names = ", ".join(muted_names or active_names)
        return Verdict(t, "defer", f"deferred until {until.isoformat()} ({names})", until=until.timestamp(),
                       stage=self.name)


class BudgetStage(Stage):
    name = "budget"

    def __init__(self, loaded: LoadedConfig, store):
        self.channels = loaded.config.channels
        self.store = store

    def decide(self, case: Case, kept: list[Verdict]) -> list[Verdict]:
        if not case.apply:  # a dry run takes nothing from the budget
            return kept
        return [self._one(case, v) for v in kept]

    def _one(self, case: Case, v: Verdict) -> Verdict:
        cfg = self.channels.get(v.target.channel)
        limit = budget.per_minute(cfg)
        if limit is None or budget.is_page(case.event, cfg.type) or budget.take(self.store, v.target.channel,
                                                                                  limit, case.now):
            return v
        return v.held(self.name, budget.fold(self.store, v.target, case.event, case.now))


class EscalationStage(Stage):
    """After the verdicts: every route the event reaches (sent, deferred or grouped) that escalates
    schedules the escalation; a resolution stops it; an acknowledgement's notice changes nothing."""

    name = "escalate"

    def __init__(self, loaded: LoadedConfig, store):
        self.routes = {r.name: r for r in loaded.config.routes}
        self.store = store

    def after(self, case: Case, verdicts: list[Verdict]) -> None:
        if not case.apply:
            return
        event, now = case.event, case.now
        for route_name in dict.fromkeys(v.target.route for v in verdicts if v.action in ("send", "defer", "group")):
            route = self.routes.get(route_name)
            if route is None or route.escalate is None:
                continue
            if event.kind == "alert.resolved":
                escalate.stop(self.store, event.fingerprint, route_name, "resolved", now)
            elif event.kind != "alert.acknowledged":
                escalate.schedule(self.store, event.fingerprint, event.id, route_name, route.escalate.to,
                                  route.escalate.after, now)
