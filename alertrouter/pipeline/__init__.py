"""The stages between routing and the outbox, in order, each with one job:

    lifecycle  a run's second end notice (RunCompleted after RunStatusChanged(Completed)) is held
    silence    an active silence that matches holds it, naming the silence
    inhibit    a firing alert that inhibits it (per `inhibit_rules`) holds it, naming the alert
    window     outside `active_during` / inside `muted_during` windows it waits (pending, due later)
    group      on a route with `group_by` it joins a group; the group is notified instead
    budget     over its channel's notices-per-minute budget it is folded into one summary per
               minute (pages never are)

A held notification is stored with status `held` and the reason, never sent; `alertrouter outbox
list --status held` and `alertrouter route` show why. `tick()` (the dispatcher's loop, the
Functions sweep timer) flushes due groups and fires due escalations. State lives in the store's
documents, so it survives restarts and is shared by Function instances.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timezone

from ..config.load import LoadedConfig, target
from ..config.types import Target
from ..model import Event
from ..wording import duration_text
from . import budget, escalate, group, inhibit, silences, windows

RUN_ENDINGS = frozenset({"run.completed", "run.failed", "run.canceled"})
LIFECYCLE_KIND = "run-end"


@dataclass(frozen=True, slots=True)
class Decision:
    target: Target
    action: str  # send | defer | hold | group
    reason: str = ""
    until: float = 0.0  # defer: when it may go
    group: str = ""
    stage: str = ""  # the stage that held or deferred it: lifecycle, silence, inhibit, window, group, budget


class Pipeline:
    def __init__(self, loaded: LoadedConfig, store, ack_secret: bytes | None = None,
                 public_url: str = "http://127.0.0.1:7071"):
        self.loaded = loaded
        self.cfg = loaded.config
        self.store = store
        self.ack_secret = ack_secret
        self.public_url = public_url.rstrip("/")
        self.inhibitor = inhibit.Inhibitor(self.cfg.inhibit_rules)
        self.silences = silences.Current(store)
        self.routes = {r.name: r for r in self.cfg.routes}
        self._batch = threading.local()  # per intake request: requests run on several threads
        # when the next group notice this process knows of is due (set by intake and by tick), so
        # the dispatcher flushes it on time rather than at its next once-a-second tick
        self.next_flush: float | None = None

    def decide(self, event: Event, targets: list[Target], now: float, apply: bool = True) -> list[Decision]:
        """What happens to each target. With apply=False nothing is written (for `alertrouter route`)."""
        store = self.store
        if apply:
            self.inhibitor.track(store, event, now)
        stage, held = "lifecycle", self._lifecycle(event, now, apply)
        if not held:
            stage, held = "silence", self._silenced(event, now)
        if not held:
            stage, held = "inhibit", self.inhibitor.inhibiting(store, event, apply, now)
        out = []
        at = datetime.fromtimestamp(now, timezone.utc)
        for t in targets:
            if held:
                out.append(Decision(t, "hold", held, stage=stage))
                continue
            route = self.routes.get(t.route)
            if route is not None and route.group_by is not None:
                labels = group.group_labels(event, route.group_by)
                key = group.group_key(t, labels)
                if apply:
                    at = group.add(store, key, t, labels, event, route.group_wait, route.group_interval, now)
                    if at is not None and (self.next_flush is None or at < self.next_flush):
                        self.next_flush = at
                out.append(Decision(t, "group", f"grouped into {key}", group=key, stage="group"))
                continue
            decision = self.window(t, at)
            if apply and decision.action == "send":
                decision = self._budget(event, decision, now)
            out.append(decision)
        if apply:
            self._escalation(event, out, now)
        return out

    def _budget(self, event: Event, d: Decision, now: float) -> Decision:
        """Over the channel's budget this minute: fold into the summary (pages never are)."""
        cfg = self.cfg.channels.get(d.target.channel)
        limit = budget.per_minute(cfg)
        if limit is None or budget.is_page(event, cfg.type) or budget.take(self.store, d.target.channel, limit, now):
            return d
        return Decision(d.target, "hold", budget.fold(self.store, d.target, event, now), stage="budget")

    def window(self, t: Target, at: datetime) -> Decision:
        """Send now, or wait for the role's and route's time windows."""
        route = self.routes.get(t.route.split("/", 1)[0])
        role = self.loaded.role(t.role)
        muted_names = [*role.muted_during, *(route.muted_during if route else ())]
        active_names = [*role.active_during, *(route.active_during if route else ())]
        if not muted_names and not active_names:
            return Decision(t, "send")
        until = windows.wait_until(at, [self.cfg.time_windows[w] for w in muted_names],
                                   [self.cfg.time_windows[w] for w in active_names])
        if until is None:
            return Decision(t, "send")
        names = ", ".join(muted_names or active_names)
        return Decision(t, "defer", f"deferred until {until.isoformat()} ({names})", until=until.timestamp(),
                        stage="window")

    def batch(self) -> "Pipeline":
        """Within `with pipeline.batch():`, silences are read once from the store (one intake
        request); outside, every event reads them. Inhibition reads its index per event."""
        return self

    def __enter__(self) -> "Pipeline":
        self._batch.silences, self._batch.on = None, True
        return self

    def __exit__(self, *exc) -> None:
        self._batch.silences, self._batch.on = None, False

    @property
    def _in_batch(self) -> bool:
        return getattr(self._batch, "on", False)

    def _lifecycle(self, event: Event, now: float, apply: bool) -> str | None:
        if event.kind not in RUN_ENDINGS:
            return None
        claim = {"event_id": event.id, "kind": event.kind}
        if apply:
            self.store.state_put(LIFECYCLE_KIND, event.fingerprint, claim, None, now)
        found = self.store.state_get(LIFECYCLE_KIND, event.fingerprint)
        if found is not None and found[0]["event_id"] != event.id:
            return f"duplicate end notice: this run's end was already reported ({found[0]['kind']})"
        return None

    def _silenced(self, event: Event, now: float) -> str | None:
        if self._in_batch:
            if self._batch.silences is None:
                self._batch.silences = self.silences.active(now)
            active = self._batch.silences
        else:
            active = self.silences.active(now)
        s = next((s for s in active if s.matches(event)), None)
        return s.describe() if s else None

    def _escalation(self, event: Event, decisions: list[Decision], now: float) -> None:
        for route_name in {d.target.route for d in decisions if d.action in ("send", "defer", "group")}:
            route = self.routes.get(route_name)
            if route is None or route.escalate is None:
                continue
            if event.kind == "alert.resolved":
                escalate.stop(self.store, event.fingerprint, route_name, "resolved", now)
            elif event.kind != "alert.acknowledged":
                escalate.schedule(self.store, event.fingerprint, event.id, route_name, route.escalate.to,
                                  route.escalate.after, now)

    # --- links and the periodic pass ---

    def ack_link(self, event: Event, route: str, now: float) -> str | None:
        r = self.routes.get(route)
        if self.ack_secret is None or r is None or r.escalate is None or event.kind != "alert.fired":
            return None
        return f"{self.public_url}/api/ack?token={escalate.make_token(self.ack_secret, event.id, event.fingerprint, route, now)}"

    def tick(self, now: float) -> list[tuple[Event, list[Target]]]:
        """Due group notices and escalations: (new event, targets) pairs for the outbox."""
        out: list[tuple[Event, list[Target]]] = []
        ready, self.next_flush = group.due(self.store, now)
        for key, doc, version in ready:
            route = self.routes.get(doc["route"])
            if route is None:
                self.store.state_delete(group.KIND, key)
                continue
            notice = group.flush(self.store, key, doc, version, route.repeat_interval, now)
            if notice is not None:
                out.append((notice, [Target(doc["route"], doc["role"], doc["channel"], doc.get("fallback_from", ""))]))
        for summary, t in budget.due(self.store, now):
            out.append((summary, [t]))
        for key, doc, version in escalate.due(self.store, now):
            if not escalate.claim(self.store, key, doc, version, now):
                continue
            event = self.store.get_event(doc["event_id"])
            if event is None:
                continue
            route = f"{doc['route']}/escalated"
            rule = self.routes[doc["route"]].escalate if doc["route"] in self.routes else None
            waited = rule.after if rule else max(0.0, now - doc["due"])  # the configured wait, as people set it
            escalated = event.model_copy(update={
                "id": f"escalated|{key}",
                "title": f"Not acknowledged after {duration_text(waited)}: {event.title}"[:200]})
            out.append((escalated, [target(self.loaded, route, role, ch) for role in doc["to"]
                                    if role in self.cfg.roles for ch in self.cfg.roles[role].channels]))
        return out

    def acknowledgement(self, ack: escalate.Ack, by: str, now: float) -> tuple[Event, list[Target]] | None:
        """The announcement of an acknowledgement, to the route's roles."""
        event = self.store.get_event(ack.event_id)
        route = self.routes.get(ack.route)
        if event is None or route is None:
            return None
        notice = event.model_copy(update={
            "id": f"ack|{ack.event_id}|{ack.route}", "kind": "alert.acknowledged",
            "title": f"Acknowledged by {by}: {event.title}"[:200],
            "time": datetime.fromtimestamp(now, timezone.utc)})
        return notice, [target(self.loaded, ack.route, role, ch) for role in route.roles
                        for ch in self.cfg.roles[role].channels]
