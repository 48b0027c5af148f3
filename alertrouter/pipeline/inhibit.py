"""Inhibition: while an alert matching a rule's `source` fires, events matching its `target` that
share the `equal` labels are held (Alertmanager's meaning: a missing label equals an empty one;
an alert does not inhibit itself).

Firing alerts are tracked in the store (kind "alert", by fingerprint), updated by each alert event
in time order, so redelivered or late events cannot flip the state back.

The index, so an event's cost does not grow with how many alerts fire: per rule and per values of
its `equal` labels, one small document per firing source alert (kind `inhibit-<generation>-<hash of
the values>`, key the source's fingerprint). Whether an event is inhibited is one bounded read of
that kind per rule whose target matches it (and, when there is a candidate, one read of its alert
document to name it and check it still fires there). `track` moves a fingerprint between kinds when
its alert starts or stops firing or its labels change, then reads the alert back: if a newer state
was written meanwhile it converges on that one, so concurrent writers of one alert leave the index
as the alert document says.

A rule's index is built from the firing alerts the first time an instance applies the rule and
finds no `inhibit-ready` document for it (after an upgrade, or when the rule is added); that
document names the generation every instance then writes to. A rule that leaves the config loses
its ready document, so it is rebuilt afresh if it comes back. Instances of one deployment are
expected to share one routing.yaml.
"""

from __future__ import annotations

import hashlib
import json
import threading
import uuid

from ..config.schema import InhibitRule
from ..model import Event
from ..config.matchers import compile_match

KIND = "alert"
READY = "inhibit-ready"  # by rule id: {"gen": the generation its index lives in}
CANDIDATES = 4  # index documents read per lookup (the first that still fires there wins)
# A firing alert is usually new (the common schema's fingerprint holds the alert's id, fired once and
# resolved once), so its documents are created first and read only if that finds one there: on
# Azure one request where a read and a write were two; a resolved alert is read first as before.
FIRST_CREATE = "alert.fired"
ENDS_KEPT = 8  # resolutions whose start an alert's document keeps (`fired_since`)


def track_doc(store, event: Event, now: float) -> tuple[dict | None, dict | None, int]:
    """Record whether the event's alert fires, and since when (`since`: a resolution keeps the start
    of the firing it ends, which gives its duration); older events than the last one seen change
    nothing, but a firing taken in late may move that start back (`_earlier_start`).
    Returns (the previous document, the document as stored now, its version); the previous one is
    the stored one again when the alert's state did not change (fires or not, labels).

    A firing alert's document is created before anything is read (FIRST_CREATE); only when it is
    there already is it read and updated."""
    t = event.time.timestamp()
    labels = {**event.labels, "source": event.source, "kind": event.kind, "severity": event.severity.value}
    doc = {"firing": event.kind == "alert.fired", "time": t, "labels": labels, "title": event.title,
           "since": t if event.kind == "alert.fired" else None, "after": None, "ends": []}
    if doc["firing"] and store.state_put(KIND, event.fingerprint, doc, None, now):
        return None, doc, 1  # created first (see FIRST_CREATE): the alert was not known
    while True:
        found = store.state_get(KIND, event.fingerprint)
        if found is None:
            if store.state_put(KIND, event.fingerprint, doc, None, now):
                return None, doc, 1
            continue
        value, version = found
        if value["time"] > t:  # an older event: the alert's state stays the newer one's
            earlier = _earlier_start(value, doc["firing"], t)
            if earlier is None:
                return value, value, version
            if store.state_put(KIND, event.fingerprint, earlier, version, now):
                return earlier, earlier, version + 1
            continue
        doc["since"], doc["after"] = _streak(value, doc["firing"], t)
        doc["ends"] = value.get("ends", [])
        if not doc["firing"] and doc["since"] is not None:  # what this resolution lasted, kept for its delivery
            doc["ends"] = (doc["ends"] + [[t, doc["since"]]])[-ENDS_KEPT:]
        if store.state_put(KIND, event.fingerprint, doc, version, now):
            return value, doc, version + 1


def _start(doc: dict) -> float | None:
    """When the firing a document describes (or, resolved, ended) began; documents written before
    `since` was kept: a firing one's own time."""
    return doc.get("since", doc["time"] if doc.get("firing") else None)


def _streak(previous: dict, firing: bool, t: float) -> tuple[float | None, float | None]:
    """(since, after) for the document an event at `t` writes over `previous`: a firing after a
    resolution begins anew (after: that resolution's time); a firing that goes on, and a resolution
    (the duration of the firing it ends), keep the start the previous document had."""
    if firing and not previous.get("firing"):
        return t, previous["time"]
    return _start(previous), previous.get("after")


def _earlier_start(doc: dict, firing: bool, t: float) -> dict | None:
    """A firing older than the alert's document, taken in late (a retry), that began the firing the
    document describes: no resolution is known between it and that start. The document with the
    earlier start, else None (nothing to change)."""
    start, after = _start(doc), doc.get("after")
    if not firing or (after is not None and t <= after) or (start is not None and t >= start):
        return None
    ends = [list(end) for end in doc.get("ends", [])]
    if not doc.get("firing") and ends and ends[-1][0] == doc["time"]:  # the resolution it describes lasted longer
        ends[-1][1] = t
    elif not doc.get("firing"):
        ends = (ends + [[doc["time"], t]])[-ENDS_KEPT:]
    return {**doc, "since": t, "ends": ends}


def fired_since(store, event: Event) -> float | None:
    """When the firing a resolution ends began, from the alert's document: the resolution's entry in
    its last ENDS_KEPT resolutions (so a resolution delivered after the alert fired again still has
    its duration). None when not known (documents written before starts were kept have none), or
    if the start would be after the resolution."""
    found = store.state_get(KIND, event.fingerprint)
    if found is None:
        return None
    t = event.time.timestamp()
    start = next((s for at, s in reversed(found[0].get("ends", [])) if at == t), None)
    return start if start is not None and start <= t else None


def firing(store) -> dict[str, dict]:
    """Every firing alert by fingerprint (the console's list; intake uses the index)."""
    return {fp: v for fp, v, _ in store.state_list(KIND) if v["firing"]}


class _Rule:
    def __init__(self, rule: InhibitRule):
        self.rule = rule
        self.source = compile_match(rule.source)[0]
        self.target = compile_match(rule.target)[0]
        spec = json.dumps({"source": rule.source, "equal": rule.equal}, sort_keys=True, default=str)
        self.id = hashlib.sha256(spec.encode()).hexdigest()[:24]  # same source and equal: same index
        self.name = f" (rule {rule.name})" if rule.name else ""

    def place(self, doc: dict | None) -> str | None:
        """The `equal` values an alert document is indexed under for this rule, or None when it
        does not inhibit (not firing, or not matching the rule's source)."""
        if doc is None or not doc["firing"]:
            return None
        labels = doc["labels"]
        if not all(m.test(labels.get(m.key)) for m in self.source):
            return None
        return _values(labels.get(k, "") for k in self.rule.equal)

    def targets(self, event: Event) -> bool:
        return all(m.test(event.match_value(m.key)) for m in self.target)

    def values_of(self, event: Event) -> str:
        return _values(event.match_value(k) or "" for k in self.rule.equal)


def _values(values) -> str:
    return json.dumps([v if isinstance(v, str) else str(v) for v in values], separators=(",", ":"))


def index_kind(gen: str, values: str) -> str:
    """The state kind holding one rule generation's firing sources with these `equal` values."""
    return f"inhibit-{gen}-{hashlib.sha256(values.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}"


class Inhibitor:
    def __init__(self, rules: list[InhibitRule]):
        self.rules = [_Rule(r) for r in rules]
        self._gens: dict[str, str] | None = None  # rule id -> generation, once this process is ready
        self._lock = threading.Lock()

    # --- writing: the alert's state and its place in the index ---

    def track(self, store, event: Event, now: float) -> dict | None:
        """Record the alert's state (see track_doc) and keep the index in step. Returns the alert's
        document as stored now (None for events that are not alerts)."""
        if event.kind not in ("alert.fired", "alert.resolved"):
            return None
        gens = self.ready(store, now)
        old, new, version = track_doc(store, event, now)
        if old is new or not self.rules:
            return new
        fp = event.fingerprint
        while True:
            moved = False
            for r in self.rules:
                gen, was, at = gens[r.id], r.place(old), r.place(new)
                if was == at:
                    continue
                moved = True
                if was is not None:
                    store.state_delete(index_kind(gen, was), fp)
                if at is not None:
                    store.state_put(index_kind(gen, at), fp, {"since": now}, None, now)  # if absent
            if not moved:  # nothing of ours in the index that a newer writer's moves could be undone by
                return new
            found = store.state_get(KIND, fp)  # a newer state written meanwhile: converge on it
            if found is None or found[1] == version:
                return new
            old, (new, version) = new, found

    def ready(self, store, now: float) -> dict[str, str]:
        """Each rule's index generation, building the index of a rule that has none (once per
        process; the other instances find the ready document)."""
        if self._gens is not None:
            return self._gens
        with self._lock:
            if self._gens is not None:
                return self._gens
            marks = {rid: doc for rid, doc, _ in store.state_list(READY)}
            known = {r.id for r in self.rules}
            for rid in set(marks) - known:  # a rule no longer configured: rebuilt afresh if it returns
                store.state_delete(READY, rid)
            gens = {}
            for r in self.rules:
                if r.id not in gens:
                    gens[r.id] = marks[r.id]["gen"] if r.id in marks else self._build(store, r, now)
            self._gens = gens
            return gens

    def _build(self, store, r: _Rule, now: float) -> str:
        gen = uuid.uuid4().hex[:12]
        for fp, doc in firing(store).items():
            at = r.place(doc)
            if at is not None:
                store.state_put(index_kind(gen, at), fp, {"since": now}, None, now)
        if store.state_put(READY, r.id, {"gen": gen, "built": now}, None, now):
            return gen
        return store.state_get(READY, r.id)[0]["gen"]  # another instance built it first: use theirs

    def _known_gens(self, store) -> dict[str, str]:
        """The generations without building anything (for decisions that write nothing)."""
        if self._gens is not None:
            return self._gens
        return {rid: doc["gen"] for rid, doc, _ in store.state_list(READY)}

    # --- reading ---

    def inhibiting(self, store, event: Event, apply: bool = True, now: float = 0.0) -> str | None:
        """Why `event` is held (naming the inhibiting alert and the rule), or None. Reads the index
        of each rule whose target matches the event: a bounded number of documents, however many
        alerts fire."""
        if not self.rules:
            return None
        gens = self.ready(store, now) if apply else None
        everything = None
        for r in self.rules:
            if not r.targets(event):
                continue
            if gens is None:
                gens = self._known_gens(store)
            values = r.values_of(event)
            gen = gens.get(r.id)
            if gen is None:  # a dry run on a store whose index for this rule is not built yet
                everything = firing(store) if everything is None else everything
                candidates = sorted(everything)
            else:
                candidates = [fp for fp, _, _ in store.state_list(index_kind(gen, values), limit=CANDIDATES)]
            for fp in candidates:
                if fp == event.fingerprint:
                    continue
                alert = everything.get(fp) if everything is not None and gen is None else _alert(store, fp)
                if alert is not None and r.place(alert) == values:
                    return f"inhibited by {alert['title']}{r.name}"
        return None


def _alert(store, fp: str) -> dict | None:
    found = store.state_get(KIND, fp)
    return found[0] if found else None
