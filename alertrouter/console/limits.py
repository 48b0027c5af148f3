"""The sign-in form's rate limit: a few wrong keys per client address a minute, then 429.

In memory, per process: the local server is one process, and in Azure the console has no key sign-in
(Easy Auth signs people in). A library (`limits`, `slowapi`) would bring storage backends and a
framework integration for what is a dict of timestamps here; this one is bounded (at most
`max_clients` addresses are remembered, the oldest forgotten first) so a flood of addresses cannot
grow it without end.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque


class FailureLimiter:
    """`limit` failures per `window` seconds per client; past that, `retry_after(client)` > 0."""

    def __init__(self, limit: int = 5, window: float = 60.0, max_clients: int = 10_000, clock=time.monotonic):
        self.limit, self.window, self.max_clients, self.clock = limit, window, max_clients, clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """Seconds until `client` may try again (0: now)."""
        with self._lock:
            times = self._recent(client)
            if times is None or len(times) < self.limit:
                return 0
            return max(1, math.ceil(times[0] + self.window - self.clock()))

    def failed(self, client: str) -> None:
        with self._lock:
            times = self._recent(client)
            if times is None:
                times = self._failures[client] = deque(maxlen=self.limit)
                while len(self._failures) > self.max_clients:
                    self._failures.popitem(last=False)
            self._failures.move_to_end(client)
            times.append(self.clock())

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _recent(self, client: str) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times
