"""Inhibition: while an alert matching a rule's `source` fires, events matching its `target` that
share the `equal` labels are held (Alertmanager's meaning: a missing label equals an empty one;
an alert does not inhibit itself).

Firing alerts are tracked in the store (kind "alert", by fingerprint), updated by each alert event
in time order, so redelivered or late events cannot flip the state back.
"""

from __future__ import annotations

from ..config.schema import InhibitRule
from ..model import Event
from ..routing.matchers import compile_match

KIND = "alert"


def track(store, event: Event, now: float) -> dict | None:
    """Record whether the event's alert fires; older events than the last one seen change nothing.
    Returns the alert's document as stored now (None for events that are not alerts)."""
    if event.kind not in ("alert.fired", "alert.resolved"):
        return None
    t = event.time.timestamp()
    labels = {**event.labels, "source": event.source, "kind": event.kind, "severity": event.severity.value}
    doc = {"firing": event.kind == "alert.fired", "time": t, "labels": labels, "title": event.title}
    while True:
        found = store.state_get(KIND, event.fingerprint)
        if found is None:
            if store.state_put(KIND, event.fingerprint, doc, None, now):
                return doc
            continue
        value, version = found
        if value["time"] > t:
            return value
        if store.state_put(KIND, event.fingerprint, doc, version, now):
            return doc


def firing(store) -> dict[str, dict]:
    return {fp: v for fp, v, _ in store.state_list(KIND) if v["firing"]}


class Inhibitor:
    def __init__(self, rules: list[InhibitRule]):
        self.rules = [(r, compile_match(r.source)[0], compile_match(r.target)[0]) for r in rules]

    def inhibiting(self, firing_alerts, event: Event) -> str | None:
        """Why `event` is held (naming the inhibiting alert and the rule), or None. `firing_alerts`
        is called (once) for the firing alerts by fingerprint only when a rule's target matches."""
        if not self.rules:
            return None
        candidates = None
        for rule, source, target in self.rules:
            if not all(m.test(event.match_value(m.key)) for m in target):
                continue
            if candidates is None:
                candidates = list(firing_alerts().items())
            for fp, alert in candidates:
                if fp == event.fingerprint:
                    continue
                labels = alert["labels"]
                if not all(m.test(labels.get(m.key)) for m in source):
                    continue
                if all(labels.get(k, "") == (event.match_value(k) or "") for k in rule.equal):
                    name = f" (rule {rule.name})" if rule.name else ""
                    return f"inhibited by {alert['title']}{name}"
        return None
