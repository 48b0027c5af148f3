"""Delivery pacing: when each send to a rate-limited channel may go out , and which limit a channel
has (its `rate_limit`, else its kind's documented one).

A notification over the limit is not attempted: it is handed back (no attempt spent) due at the
instant its slot opens, and that slot is kept for it, so each one waits once. Sends are counted in
the process that makes them: several instances (Functions scale-out) each keep their own pace.
"""

from __future__ import annotations

import threading
from collections import deque

from ..channels.registry import channel_class
from ..config.types import RateLimit


class Pacer:
    """Send instants per channel (past ones and slots kept for deferred notifications)."""

    KEPT = 10_000  # slots kept for notifications that never came back are dropped past this many

    def __init__(self) -> None:
        self._sends: dict[str, deque[float]] = {}
        self._slots: dict[str, float] = {}  # notification id -> the instant kept for it
        self._lock = threading.Lock()

    def reserve(self, channel: str, notification_id: str, limit: RateLimit, now: float) -> float:
        """0.0 when the notification may be sent now (counted as sent), else the seconds until the
        slot kept for it opens."""
        with self._lock:
            slot = self._slots.pop(notification_id, None)
            if slot is not None:
                if slot <= now:
                    return 0.0
                self._slots[notification_id] = slot
                return slot - now
            sends = self._sends.setdefault(channel, deque())
            while sends and sends[0] <= now - limit.per:
                sends.popleft()
            # the window ending at a new instant t may hold count - 1 others: t >= the count-th latest + per
            at = now if len(sends) < limit.count else max(now, sends[-limit.count] + limit.per)
            sends.append(at)
            if at <= now:
                return 0.0
            self._slots[notification_id] = at
            if len(self._slots) > self.KEPT:
                for nid in [k for k, t in self._slots.items() if t < now - 3600.0] or list(self._slots)[:1]:
                    del self._slots[nid]
            return at - now


def limit_of(channel_cfg) -> RateLimit | None:
    """The channel's limit: its `rate_limit`, else its kind's documented one (`Channel.documented_limit`:
    Teams 4/1s, PagerDuty 120/1m, Graph mail 10000/10m); None for no limit."""
    if channel_cfg is None:
        return None
    limit = channel_cfg.rate_limit
    if limit is None:
        limit = channel_class(channel_cfg.type).documented_limit
    return limit if limit is not None and limit.count else None
