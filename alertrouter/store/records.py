"""The records a store keeps and hands back: notifications, attempts, intake outcomes, the event
list's filter, page and cursor, a channel's last activity."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Literal

from ..model import Event

Status = Literal["pending", "sent", "dead", "held"]  # held: a stage kept it back (reason in last_detail)


@dataclass
class Notification:
    id: str
    event_id: str
    route: str
    role: str
    channel: str
    fallback_from: str = ""
    status: Status = "pending"
    attempts: int = 0
    created_at: float = 0.0  # epoch seconds
    updated_at: float = 0.0
    next_attempt_at: float = 0.0
    lease_owner: str = ""
    lease_until: float = 0.0
    last_detail: str = ""

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Attempt:
    notification_id: str
    number: int
    at: float
    status: str  # delivered | retry | failed | redriven
    detail: str = ""
    retry_after: float | None = None


@dataclass
class IngestOutcome:
    new: bool
    notifications: list[Notification] = field(default_factory=list)


@dataclass(frozen=True)
class EventFilter:
    """What the console's event list asks for; every field that is set must hold.

    `labels` are (key, value) pairs, all required; `role` means "a notification of the event went
    (or was held) for that role"; `since`/`until` bound the time the event was taken in
    (received_at, epoch seconds, until exclusive)."""

    source: str = ""
    kind: str = ""
    severity: str = ""
    role: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    since: float | None = None
    until: float | None = None


@dataclass
class EventPage:
    """One page of events, newest first (by received_at, then id); `next_cursor` continues after
    the last one, "" when there is no more."""

    events: list[tuple[Event, float]]  # (event, received_at)
    next_cursor: str = ""


def page_cursor(received_at: float, event_id: str) -> str:
    """An opaque cursor: the (received_at, id) of the last event shown."""
    return base64.urlsafe_b64encode(f"{received_at!r}|{event_id}".encode()).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[float, str] | None:
    """(received_at, id) from `page_cursor`, or None for an empty or unreadable cursor."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        at, _, eid = raw.partition("|")
        return float(at), eid
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class ChannelActivity:
    """A channel's last delivery and last failed attempt (epoch seconds), for the status page."""

    channel: str
    last_success: float | None = None
    last_failure: float | None = None
    last_failure_detail: str = ""


# The kinds whose earliest instant per fingerprint is asked for: a run's start (for its duration when
# it ends). The Azure store keeps an index for these only. (An alert's resolution takes its duration
# from the fired time it states, or from the alert's state document: pipeline/inhibit.py `since`.)
FIRST_TIME_KINDS = frozenset({"run.started"})
