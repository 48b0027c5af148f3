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

from datetime import datetime
from typing import Callable

from ..config.load import LoadedConfig
from .compare import Report, compare
from .engine import as_recorded, collection_paused, period_events, simulate
from .outcomes import Made, Reader

__all__ = ["Report", "replay"]


def replay(loaded: LoadedConfig, store, start: datetime, end: datetime, config_name: str = "",
           progress: Callable[[str], None] | None = None) -> Report:
    """Replay the source events of [start, end) in `store` under `loaded`; the real store is only
    read. `progress` (the command's stderr on a terminal) is told what the run is doing."""
    say = progress or (lambda _: None)
    with collection_paused():
        sources, router_notices = period_events(store, start, end)
        recorded = Made(store, start, end, router_notices)  # read once: the channels as they were, and the comparison
    say(f"read {len(sources):,} events and {sum(map(len, recorded.by_event.values())):,} recorded notifications; "
        f"simulating")
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
