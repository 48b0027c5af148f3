"""Which periods a digest is sent for: only those the router was running for.

The router was running for a period when, before the period's end, the store took in an event (any
event: the router's own ones too, each proves it was running), or this digest's previous period was
recorded (a store whose events were all purged after months of quiet). Receipt time, not event time:
in a new install's first minutes Azure redelivers events from the week before (it retries for up to
a day), and the router still was not running that week.

    events    source events in the period: sent
    quiet     none, but the router was running: a quiet period, sent with zero counts (that is news)
    no-data   the router was not running yet (a new install's "last week"): recorded as no-data,
              logged once, not sent; `alertrouter digest NAME --send --force` sends it anyway

"No data" is final only once the period has been over for NO_DATA_GRACE (an intake in flight at its
end may still land); until then the period is only not yet sent (NOT_YET, decided again next check).
"""

from __future__ import annotations

from dataclasses import dataclass

from .aggregate import DigestData
from .period import Period
from .storage import PeriodLedger, took_in_before

NO_DATA = "no-data"
NOT_YET = "not-yet"
NO_DATA_GRACE = 600.0  # seconds after a period's end before "nothing taken in before it" is final


@dataclass
class Coverage:
    state: str  # events | quiet | no-data
    reason: str


def running(store, ledger: PeriodLedger, name: str, period: Period) -> bool:
    """Whether the router was running before `period` ended (see the module's docstring)."""
    if took_in_before(store, period.end):
        return True
    record = ledger.get(name, period.previous().key)
    return record is not None and float(record.get("claimed_at") or 0) < period.end.timestamp()


def coverage(store, ledger: PeriodLedger, name: str, period: Period, data: DigestData | None = None) -> Coverage:
    """What the period's data is; without `data` (its figures) only events-or-no-data is told."""
    end = f"{period.end_local:%a %d %b %Y %H:%M} {period.tz}"
    if data is not None and data.current.source_events:
        return Coverage("events", f"{data.current.source_events} event(s) from Azure in the period")
    if not running(store, ledger, name, period):
        return Coverage(NO_DATA, f"the store took in no events before the period ended ({end}): "
                                 "the router was not running then (a new install?)")
    if data is None:
        return Coverage("events", "the router was running before the period ended")
    return Coverage("quiet", "no events from Azure in the period, and the router was running (it took in "
                             "events before the period ended): a quiet period, sent with zero counts")
