"""A suggestion tried: applied to the config's text, and the period replayed under it with
`alertrouter.replay.replay`; what it reduces is measured as recorded minus replayed. A mute only
moves notices to the end of its window (replay counts a waiting notice as one that goes out), so
replay has no figure for it: its reduction is left unmeasured."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

from ..config.load import LoadedConfig, loads
from ..replay import Recorded, Report, read_period, replay
from .suggest import Claim, Suggestion, apply


MEASURED = ("notifications", "pages")  # the claims replay counts (not a mute's "notifications during …")


def figure(side, claim: Claim) -> int | None:
    """The claim's figure on one side of a replay report (None when replay does not count it)."""
    if claim.what == "notifications":
        return sum(n for (role, _, _), n in side.per_role_channel_day.items() if role == claim.role)
    if claim.what == "pages":
        return sum(n for (role, _), n in side.pages.items() if role == claim.role)
    return None


def applied(loaded: LoadedConfig, text: str, s: Suggestion) -> LoadedConfig:
    """The config with the suggestion made, loaded and checked as `check` would."""
    return loads(apply(text, s, str(loaded.path)), str(loaded.path), env=loaded.env)


def try_suggestion(loaded: LoadedConfig, text: str, s: Suggestion, store, start: datetime,
                   end: datetime, period: Recorded | None = None) -> tuple[int | None, Report]:
    """Replay the period (`period`: already read) under the suggestion; (its measured reduction or
    None, the replay's report)."""
    report = replay(applied(loaded, text, s), store, start, end, f"{loaded.path} + {s.kind} {s.rule}",
                    period=period)
    before, after = figure(report.recorded, s.claim), figure(report.replayed, s.claim)
    return (None if before is None else before - after), report


def verify(loaded: LoadedConfig, text: str, suggestions: list[Suggestion], store, start: datetime,
           end: datetime, progress: Callable[[str], None] | None = None, period: Recorded | None = None) -> None:
    """Fill in each suggestion's `measured` reduction by replaying it; the period is read once for
    all of them (`period`: already read, as the report's). `progress` (the command's stderr on a
    terminal) is told which one is replaying."""
    measurable = [s for s in suggestions if s.claim.what in MEASURED]
    for s in suggestions:
        s.measured = None  # a mute's stays unmeasured: no replay is run for it
    if not measurable:
        return
    period = period or read_period(store, start, end)
    for i, s in enumerate(measurable, 1):
        if progress is not None:
            progress(f"replaying suggestion {i} of {len(measurable)} ({s.kind} for {s.rule}) "
                     f"over {len(period.sources):,} events")
        s.measured, _ = try_suggestion(loaded, text, s, store, start, end, period)
