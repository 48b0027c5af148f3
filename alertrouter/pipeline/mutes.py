"""The muters: what holds a whole event, each saying why (run in the stage list by `MuteStage`).

    RunEnds      a run's second end notice (RunCompleted after RunStatusChanged(Completed))
    Silences     an active silence that matches (read once per intake request, or per replay,
                 within `batch()`)
    Inhibition   a firing alert that inhibits it (per `inhibit_rules`); `TrackAlerts` records,
                 for every event, whether its alert fires, before anything is decided
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from ..model import Event
from . import inhibit, silences
from .stage import Case, Stage

RUN_ENDINGS = frozenset({"run.completed", "run.failed", "run.canceled"})
LIFECYCLE_KIND = "run-end"


class RunEnds:
    """The first end notice of a run claims it (state kind "run-end", by fingerprint); another
    end notice of that run is a duplicate."""

    def __init__(self, store):
        self.store = store

    def mutes(self, event: Event, now: float, apply: bool) -> str | None:
        if event.kind not in RUN_ENDINGS:
            return None
        claim = {"event_id": event.id, "kind": event.kind}
        if apply and self.store.state_put(LIFECYCLE_KIND, event.fingerprint, claim, None, now):
            return None  # the run's first end notice: the claim is this event's
        found = self.store.state_get(LIFECYCLE_KIND, event.fingerprint)
        if found is not None and found[0]["event_id"] != event.id:
            return f"duplicate end notice: this run's end was already reported ({found[0]['kind']})"
        return None


class Silences:
    """The active silence matching the event, named. Within `batch()` (one intake request) the
    silences are read once; outside, every event reads them."""

    def __init__(self, current: silences.Current):
        self.current = current
        self._batch = threading.local()  # per intake request: requests run on several threads

    @contextmanager
    def batch(self) -> Iterator[None]:
        if getattr(self._batch, "on", False):  # within an outer batch: the silences it read still hold
            yield
            return
        self._batch.silences, self._batch.on = None, True
        try:
            yield
        finally:
            self._batch.silences, self._batch.on = None, False

    def mutes(self, event: Event, now: float, apply: bool) -> str | None:
        if getattr(self._batch, "on", False):  # thread-local: unset on a thread that never batched
            if self._batch.silences is None:
                self._batch.silences = self.current.unexpired(now)
            active = [s for s in self._batch.silences if s.active(now)]  # each event on its own time
        else:
            active = self.current.active(now)
        s = next((s for s in active if s.matches(event)), None)
        return s.describe() if s else None


class Inhibition:
    """The firing alert inhibiting the event, named with its rule (reads the inhibition index)."""

    def __init__(self, inhibitor: inhibit.Inhibitor, store):
        self.inhibitor, self.store = inhibitor, store

    def mutes(self, event: Event, now: float, apply: bool) -> str | None:
        return self.inhibitor.inhibiting(self.store, event, apply, now)


class TrackAlerts(Stage):
    """Records whether each alert fires, and keeps the inhibition index in step, for every event
    (also those another stage holds); holds nothing."""

    def __init__(self, inhibitor: inhibit.Inhibitor, store):
        self.inhibitor, self.store = inhibitor, store

    def observe(self, case: Case) -> None:
        if case.apply:
            self.inhibitor.track(self.store, case.event, case.now)
