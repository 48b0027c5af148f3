"""Channel health: a channel whose sends keep failing is marked down, its notices wait (pending,
no attempt spent) instead of burning their retries, one notice probes it every `probe_every`
seconds, and it is marked up again by the first success. Each change raises an event
(`channel.down` / `channel.up`, source `router`) that is routed like any other, so operators see it.

State is one store document per channel (kind "channel"), updated by compare-and-set.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ..model import Event
from ..channels.base import DeliveryResult

KIND = "channel"
THRESHOLD = 5  # consecutive retryable failures …
MIN_OUTAGE = 30.0  # … over at least this long (a one-off burst of 503s is retried, not a channel down)
PROBE_EVERY = 60.0
FRESH_FOR = 1.0  # a healthy channel's document is trusted this long before it is read again


class ChannelHealth:
    def __init__(self, store, threshold: int = THRESHOLD, probe_every: float = PROBE_EVERY,
                 min_outage: float = MIN_OUTAGE, fresh_for: float = FRESH_FOR):
        self.store, self.threshold, self.probe_every, self.min_outage = store, threshold, probe_every, min_outage
        self.fresh_for = fresh_for
        self._healthy: dict[str, float] = {}  # channel → when its document last read healthy (no failures)

    def _update(self, channel: str, fn, now: float):
        while True:
            found = self.store.state_get(KIND, channel)
            doc, version = found if found else ({"failures": 0, "down": False, "since": 0.0, "next_probe": 0.0,
                                                "last": "", "first": 0.0}, None)
            new, out = fn(dict(doc))
            if new == doc or self.store.state_put(KIND, channel, new, version, now):
                if new["failures"] == 0 and not new["down"]:
                    self._healthy[channel] = now
                else:
                    self._healthy.pop(channel, None)
                return out

    def _known_healthy(self, channel: str, now: float) -> bool:
        """Read healthy within the last `fresh_for` seconds: a busy healthy channel is not re-read for
        every send (another instance's "down" is seen that much later)."""
        at = self._healthy.get(channel)
        return at is not None and 0 <= now - at < self.fresh_for

    def wait(self, channel: str, now: float) -> float | None:
        """When the channel is down and this is not the moment to probe it: until when to wait."""
        if self._known_healthy(channel, now):
            return None

        def fn(doc):
            if not doc["down"]:
                return doc, None
            if now < doc["next_probe"]:
                return doc, doc["next_probe"]
            return {**doc, "next_probe": now + self.probe_every}, None  # this notice is the probe
        return self._update(channel, fn, now)

    def record(self, channel: str, result: DeliveryResult, now: float) -> Event | None:
        if result.status == "delivered" and self._known_healthy(channel, now):
            return None

        def fn(doc):
            if result.status == "delivered":
                if doc["down"]:
                    return ({**doc, "failures": 0, "down": False},
                            _event("channel.up", channel, f"Channel {channel} is delivering again", doc, now))
                return {**doc, "failures": 0}, None
            if result.status != "retry":
                return doc, None
            first = doc.get("first") if doc["failures"] else now
            doc = {**doc, "failures": doc["failures"] + 1, "last": result.detail[:300], "first": first}
            if not doc["down"] and doc["failures"] >= self.threshold and now - first >= self.min_outage:
                doc.update(down=True, since=now, next_probe=now + self.probe_every)
                return doc, _event("channel.down", channel, f"Channel {channel} is down: {doc['failures']} failed "
                                   f"sends in a row (last: {result.detail[:160]}); its notices wait", doc, now)
            return doc, None
        return self._update(channel, fn, now)

    def down(self) -> dict[str, dict]:
        return {k: v for k, v, _ in self.store.state_list(KIND) if v["down"]}


def _event(kind: str, channel: str, title: str, doc: dict, now: float) -> Event:
    return Event(id=f"{kind}|{channel}|{int(doc['since'] or now)}|{int(now) if kind == 'channel.up' else ''}",
                 source="router", kind=kind, severity="error" if kind == "channel.down" else "informational",
                 title=title[:200], summary=title, time=datetime.fromtimestamp(now, timezone.utc),
                 fingerprint=f"channel:{channel}", labels={"channel": channel})
