"""What if: the stored events of a period replayed under another `routing.yaml`, sending nothing,
beside what was recorded. Its parts, one job each:

    period.py    --since / --from / --to as [start, end)
    engine.py    the simulation on event time over a scratch in-memory store (the real App)
    outcomes.py  a store's outcomes per event, and the period's figures
    compare.py   recorded against replayed: figures, changed events in words, what cannot be judged
    report.py    the text report (the JSON one is `Report.as_dict()`)

The command, `alertrouter replay`, is alertrouter/cli/replay.py.
"""

from __future__ import annotations

from datetime import datetime

from ..config.load import LoadedConfig
from .compare import Report, compare
from .engine import simulate, source_events
from .outcomes import Reader

__all__ = ["Report", "replay"]


def replay(loaded: LoadedConfig, store, start: datetime, end: datetime, config_name: str = "") -> Report:
    """Replay the source events of [start, end) in `store` under `loaded`; the real store is only read."""
    sources = source_events(store, start, end)
    scratch = simulate(loaded, sources, store, start, end)
    try:
        report = Report(start, end, config_name or str(loaded.path), len(sources))
        return compare(report, Reader(loaded), store, scratch, sources)
    finally:
        scratch.close()
