"""What if: the stored events of a period replayed under another `routing.yaml`, sending nothing,
beside what was recorded. Its parts, one job each:

    period.py    --since / --from / --to as [start, end)
    engine.py    the simulation on event time over a scratch store in memory (the real App)
    outcomes.py  a store's outcomes per event, and the period's figures
    compare.py   recorded against replayed: figures, changed events in words, what cannot be judged
    report.py    the text report (the JSON one is `Report.as_dict()`)

The command, `alertrouter replay`, is alertrouter/cli/replay.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from ..config.load import LoadedConfig
from ..model import Event
from .compare import Report, compare
from .engine import as_recorded, collection_paused, period_events, simulate
from .outcomes import Made, Reader

__all__ = ["Recorded", "Report", "read_period", "replay"]


@dataclass(frozen=True)
class Recorded:
    """A period of the store, read once: its source events, and what was recorded of them (every
    notification made in it, by event). Several replays of one period (the noise report trying
    each suggestion) share one."""
    sources: list[Event]
    made: Made


def read_period(store, start: datetime, end: datetime) -> Recorded:
    """The period [start, end) of `store` as a replay reads it."""
    with collection_paused():
        sources, router_notices = period_events(store, start, end)
        return Recorded(sources, Made(store, start, end, router_notices))


def replay(loaded: LoadedConfig, store, start: datetime, end: datetime, config_name: str = "",
           progress: Callable[[str], None] | None = None, period: Recorded | None = None) -> Report:
    """Replay the source events of [start, end) in `store` under `loaded`; the real store is only
    read (`period`: that period already read, by `read_period`). `progress` (the command's stderr on
    a terminal) is told what the run is doing."""
    say = progress or (lambda _: None)
    if period is None:
        period = read_period(store, start, end)
        say(f"read {len(period.sources):,} events and {sum(map(len, period.made.by_event.values())):,} recorded "
            f"notifications; simulating")
    sources, recorded = period.sources, period.made  # the channels as they were, and the comparison
    resolved, unset = as_recorded(loaded, recorded)
    scratch = simulate(resolved, sources, store, start, end, progress)
    say("comparing")
    try:
        report = Report(start, end, config_name or str(loaded.path), len(sources))
        if unset:
            report.notes.append(f"Not configured where the period was recorded, so their notices go to log here "
                                f"too: {', '.join(unset)}.")
        with collection_paused():
            return compare(report, Reader(loaded), store, scratch, sources, recorded)
    finally:
        scratch.close()
