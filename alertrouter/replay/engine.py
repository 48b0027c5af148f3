"""The simulation: the period's source events, in their own time order and on their own timestamps,
through a config's router and pipeline (the real `App`) over a scratch store in memory, with
the periodic pass run at event time whenever something falls due. Nothing is sent: the scratch App
has no dispatcher, the real store is only read, and nothing it does is logged (`logs.simulated`).

`EventTimeDriver` is the clock-work: before each event it runs the periodic pass at every moment
something fell due since the last one (a group's notice, a minute's budget summaries, an
escalation's wait), as the dispatcher's loop does, then takes the event in at its own time. The run
watch (stuck and missing runs) is checked on those passes only, so a finding may come later than
the server's once-a-second loop made it.
"""

from __future__ import annotations

import gc
import heapq
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Callable, Iterable

from ..app import App
from ..config.load import LoadedConfig
from ..digest.sources import is_source
from ..logs import simulated
from ..model import Event
from ..pipeline import budget, silences
from ..store.base import Notification
from ..store.memory import MemoryStore
from .outcomes import Made, held_stage


class Clock:
    """The replay's time: set by the driver, read by the App."""

    def __init__(self, t: float = 0.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


class EventTimeDriver:
    """Feeds events to an App on their own time and runs its periodic pass when something is due."""

    def __init__(self, app: App, clock: Clock):
        self.app, self.clock = app, clock
        self.waits = {r.name: r.escalate.after for r in app.loaded.config.routes if r.escalate is not None}
        self._due: list[float] = []  # moments the periodic pass may have work (a min-heap)

    def feed(self, event: Event) -> None:
        """Run what fell due before the event, then take it in at its own time."""
        at = event.time.timestamp()
        self.advance(at)
        self.clock.t = max(self.clock.t, at)
        self._expect(self.clock.t, self.app.ingest([event]).notifications)

    def advance(self, to: float) -> None:
        """Run the periodic pass at each moment up to `to` (inclusive) when something may be due."""
        while True:
            nxt = self._next()
            if nxt is None or nxt > to:
                return
            while self._due and self._due[0] <= nxt:
                heapq.heappop(self._due)
            self.clock.t = max(self.clock.t, nxt)
            self.app.tick()

    def _next(self) -> float | None:
        group_at = self.app.pipeline.next_flush
        if group_at is not None and group_at <= self.clock.t:
            group_at = None  # due now: the next tick takes it; never run the same moment twice
        heap_at = self._due[0] if self._due else None
        found = [t for t in (group_at, heap_at) if t is not None]
        return min(found) if found else None

    def _expect(self, now: float, made: list[Notification]) -> None:
        """What taking an event in at `now` made due later: the minute's budget summary when a
        notice was folded, the escalation when its route escalates (a group's notice is the
        pipeline's own `next_flush`)."""
        if any(held_stage(n.status, n.last_detail) == "budget" for n in made):
            heapq.heappush(self._due, (int(now // budget.WINDOW) + 1) * budget.WINDOW)
        waits = {self.waits[n.route] for n in made if n.route in self.waits}
        for wait in waits:
            heapq.heappush(self._due, now + wait)


def copy_silences(source, scratch, now: float) -> int:
    """Copy the real store's silences into the scratch store, each as it stood over time: active
    from when it was both made and started, until it ended or was expired by hand (a silence made
    after an event never holds it; one expired later still held what came before)."""
    copied = 0
    for _, value, _ in source.state_list(silences.KIND):
        s = silences.Silence(**value)
        ends = min(s.ends_at, s.expired_at) if s.expired_at is not None else s.ends_at
        s = replace(s, starts_at=max(s.starts_at, s.created_at), ends_at=ends, expired_at=None)
        if s.ends_at > s.starts_at:
            scratch.state_put(silences.KIND, s.id, s.__dict__, None, now)
            copied += 1
    scratch.state_put(silences.REV, silences.REV_KEY, {"at": now}, None, now)
    return copied


def source_events(store, start: datetime, end: datetime) -> list[Event]:
    """The events Azure sent in [start, end), by time, those of the same time as they were taken in
    (Azure ML sends a run's two end notices in the same second: the first taken in is the one that
    notified): the router's own notices are outcomes."""
    return period_events(store, start, end)[0]


@contextmanager
def collection_paused():
    """The cyclic garbage collector paused while a period is read or compared: those phases make
    hundreds of thousands of records that form no cycles, and each full collection they set off
    walks every one already read (reading 100,000 events took twice as long with it on). Objects
    are still freed as their last reference goes. Restored as it was, also when two replays
    overlap in one server (the first to start puts it back)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def period_events(store, start: datetime, end: datetime) -> tuple[list[Event], dict[str, Event]]:
    """The period's events, read once: the source events (as `source_events`), and the router's own
    notices by id, which the comparison needs as events (`Made(..., events=)`) and would otherwise
    ask the store for one at a time."""
    sources, made = [], {}
    for e in store.events_between(start, end):
        if is_source(e):
            sources.append(e)
        else:
            made[e.id] = e
    return sources, made


NOT_SET_THEN = ["not set where the period was recorded (its notices went to log)"]


def as_recorded(loaded: LoadedConfig, recorded: Made) -> tuple[LoadedConfig, list[str]]:
    """`loaded` with its channels resolved as they were where the period was recorded, and the names
    of those taken as not configured; the same whoever replays, whatever their environment holds
    (nothing is sent). A channel goes to `log` when its notices went to `log` there (its
    ${ENV_VAR}s were not set, as on `make run`), and so does every other channel of a role whose
    notices went to `log` that never reached that role directly: a role's second unset channel
    leaves no trace (its `log` notice is the first one's). A channel that reached other roles
    directly goes to `log` only for those roles (their email had no address). Every other channel
    as configured."""
    fell, direct, direct_pairs = set(), set(), set()
    for made in recorded.by_event.values():
        for n in made:
            if n.fallback_from:
                fell.add((n.role, n.fallback_from))
            else:
                direct.add(n.channel)
                direct_pairs.add((n.role, n.channel))
    for role_name in {role_name for role_name, _ in fell}:
        role = loaded.role(role_name)
        fell |= {(role_name, ch) for ch in (role.channels if role else []) if (role_name, ch) not in direct_pairs}
    unresolved = sorted({ch for _, ch in fell if ch not in direct})
    resolved = replace(loaded, unresolved={ch: NOT_SET_THEN for ch in unresolved},
                       unaddressed={(r, ch): NOT_SET_THEN for r, ch in fell if ch in direct})
    return resolved, unresolved


PROGRESS_EVERY = 10_000  # events simulated between two progress lines


def simulate(loaded: LoadedConfig, events: Iterable[Event], real_store, start: datetime,
             end: datetime, progress: Callable[[str], None] | None = None) -> MemoryStore:
    """A scratch store holding what `loaded` would have made of `events` (in time order), with the
    real store's silences; the periodic pass runs up to `end`. Its channels are taken as `loaded`
    resolves them (`replay` passes them `as_recorded`). The caller closes it. `progress` is told
    every PROGRESS_EVERY events how far the run is.

    The scratch store is the in-memory one (store/memory.py, which passes the same contract suite as
    SQLite and Azure): on an in-memory SQLite database half the simulation was statements and rows."""
    scratch = MemoryStore()
    clock = Clock(start.timestamp())
    copy_silences(real_store, scratch, clock.t)
    # nothing of the scratch App is logged: an intake line from it would read as a real one
    with simulated(), tempfile.TemporaryDirectory(prefix="alertrouter-replay-") as data_dir:
        app = App(loaded, data_dir, store=scratch, clock=clock)
        driver = EventTimeDriver(app, clock)
        # the silences read once: only copy_silences writes them. No transaction around the run:
        # the memory store has no commit to save, and would keep every write's undo until the end
        with app.pipeline.batch():
            ordered = sorted(events, key=lambda e: e.time)  # stable: ties keep the order given
            for i, event in enumerate(ordered, 1):
                driver.feed(event)
                if progress is not None and i % PROGRESS_EVERY == 0:
                    progress(f"simulated {i:,} of {len(ordered):,} events")
            driver.advance(end.timestamp() - 1e-6)
    return scratch
