"""What a store holds of a period's outcomes: per event, each notification as reaching its role (or
held by a named stage), and the period's figures: notifications per role, channel and day, pages,
and notices held per stage. The same reading serves the recorded store and the replay's scratch one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

from ..channels.registry import channel_class
from ..config.load import LoadedConfig
from ..digest.sources import router_made
from ..model import Event
from ..pipeline.budget import is_page
from ..store.base import Notification

# A held notification's recorded reason starts with what its stage writes (pipeline/mutes.py,
# silences.py, inhibit.py, stages.py, budget.py).
_HELD_BY = (("duplicate end notice", "lifecycle"), ("silenced by", "silence"), ("inhibited by", "inhibit"),
            ("grouped into", "group"), ("folded into", "budget"))
HELD_STAGES = tuple(stage for _, stage in _HELD_BY)


def held_stage(status: str, detail: str) -> str:
    """The stage that held a notification ("" when it goes out, deferred or not)."""
    if status != "held":
        return ""
    return next((stage for prefix, stage in _HELD_BY if detail.startswith(prefix)), "held")


@dataclass(frozen=True)
class Outcome:
    """One notification of one event."""
    route: str
    role: str
    channel: str
    stage: str  # "" when it reaches the role; else the stage that held it
    reason: str
    day: str  # UTC day the notice was made
    page: bool  # it pages (a paging channel at a page severity) and reaches the role

    @property
    def reaches(self) -> bool:
        return not self.stage


@dataclass
class Figures:
    """A period's outcomes, counted."""
    per_role_channel_day: Counter = field(default_factory=Counter)  # (role, channel, day) -> notices that go out
    pages: Counter = field(default_factory=Counter)  # (role, channel) -> pages
    held: Counter = field(default_factory=Counter)  # stage -> notices held
    router_notices: Counter = field(default_factory=Counter)  # what the router made (group notice…) -> events

    def as_dict(self) -> dict:
        return {
            "notifications": [{"role": r, "channel": c, "day": d, "count": n}
                              for (r, c, d), n in sorted(self.per_role_channel_day.items())],
            "pages": [{"role": r, "channel": c, "count": n} for (r, c), n in sorted(self.pages.items())],
            "held": dict(sorted(self.held.items())),
            "router_notices": dict(sorted(self.router_notices.items())),
        }


class Made:
    """One store's notifications of a period, read at once and kept by event: those made from the
    period's start until a day after its end (an event taken in late is still found)."""

    LATE = 86400.0

    def __init__(self, store, start: datetime, end: datetime, events: dict[str, Event] | None = None):
        """`events`: the store's events already read, by id (the period's, read once for the
        simulation); `others` asks the store only for those not among them."""
        self.store, self.end = store, end.timestamp()
        self.events = events or {}
        self.by_event: dict[str, list[Notification]] = {}
        for n in store.made_between(start.timestamp(), self.end + self.LATE):
            self.by_event.setdefault(n.event_id, []).append(n)

    def of(self, event_id: str) -> list[Notification]:
        """The event's notifications (asked of the store when none were made in the period)."""
        found = self.by_event.get(event_id)
        return found if found is not None else self.store.notifications_for(event_id)

    def others(self, known: set[str]) -> list[tuple[Event, list[Notification]]]:
        """The other events' notifications made before the period's end, with their events: the
        router's own notices (group notices, summaries, escalations…)."""
        out = []
        for event_id, made in self.by_event.items():
            made = [n for n in made if n.created_at < self.end]
            event = None
            if event_id not in known and made:
                event = self.events.get(event_id) or self.store.get_event(event_id)
            if event is not None and router_made(event):  # not a source event from before the period
                out.append((event, made))
        return out


class Reader:
    """Outcomes of notifications, typing channels by the given config (a channel it does not name
    is taken as not paging)."""

    def __init__(self, loaded: LoadedConfig):
        self.types = {name: c.type for name, c in loaded.config.channels.items()}

    def outcomes(self, made: list[Notification], event: Event) -> list[Outcome]:
        out = []
        for n in made:
            stage = held_stage(n.status, n.last_detail)
            channel = n.fallback_from or n.channel  # the configured channel, whether or not its secrets were set
            kind = self.types.get(channel)
            pages = not stage and kind is not None and _pages(event, kind)
            day = datetime.fromtimestamp(n.created_at, timezone.utc).date().isoformat()
            out.append(Outcome(n.route, n.role, channel, stage, n.last_detail if stage else "", day, pages))
        return out


def _pages(event: Event, kind: str) -> bool:
    try:
        channel_class(kind)
    except (KeyError, ValueError):
        return False
    return is_page(event, kind)


def count(figures: Figures, outcomes: list[Outcome]) -> None:
    """Add one event's outcomes to the figures."""
    for o in outcomes:
        if o.reaches:
            figures.per_role_channel_day[(o.role, o.channel, o.day)] += 1
            if o.page:
                figures.pages[(o.role, o.channel)] += 1
        else:
            figures.held[o.stage] += 1
