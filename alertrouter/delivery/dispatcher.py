"""The dispatcher: sends due notifications from the outbox, retries, dead-letters.

    claim (lease) due notifications → render → channel.send → finish:
      delivered              → sent
      permanent failure      → dead, with the reason
      retryable failure      → pending again after exponential backoff with jitter, at least the
                               receiver's Retry-After; after the channel's last attempt → dead

Every attempt is kept in the notification's history. A lease (not a lock) guards each claimed
notification: if this process dies mid-send, the lease runs out and another dispatcher (or this one
after a restart) sends it again, so a receiver may see one repeat per crash; it carries the same
`webhook-id` / dedup key both times so the receiver can drop it.

The dispatcher is given what it works with (the store, the channels, the config, how to render and
find an event, channel health, metrics, and the periodic tick that flushes groups and escalations);
alertrouter/build.py wires them from the app.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable

from ..channels.base import DEFAULT_TIMEOUT, Channel, DeliveryResult
from ..config.base import RetryPolicy
from ..config.load import LoadedConfig
from ..config.types import Target
from ..model import Event
from ..rendering.renderer import Rendered
from ..store.base import Attempt, Notification, Store
from .health import ChannelHealth
from .pacing import Pacer, limit_of

log = logging.getLogger("alertrouter.dispatch")

MAX_RETRY_AFTER = 24 * 3600.0
SLOW_SEND = 0.005  # seconds: a channel whose sends take longer (moving average) is sent to concurrently
LANES_PER_CHANNEL = 4  # concurrent sends to one slow channel
INDEX_FLUSH_EVENTS = 1000  # events indexed for the console's event list per flush, one a second at most


def backoff(policy: RetryPolicy, attempts_done: int, retry_after: float | None, rand: float) -> float:
    """Delay before the next attempt: initial × 2^(n-1), capped, times a jitter in [0.5, 1); never
    less than the receiver's Retry-After."""
    base = min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** max(0, attempts_done - 1))
    delay = base * (0.5 + rand / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


class Dispatcher:
    """Sends due notifications from `store` through `channels`.

    - `loaded`: the routing config (roles, and each channel's retry policy, timeout and rate limit)
    - `render(event, target, channel)`: the message to send; `event(id)`: a stored event, or None
    - `health`: channel health; `report(events)`: takes in the channel.down/up events it raises
    - `tick()`: flushes due groups and escalations into the outbox; `next_flush()`: when the next
      group notice is due as far as this process knows (None: none)
    """

    def __init__(self, store: Store, channels: dict[str, Channel], loaded: LoadedConfig, *,
                 render: Callable[[Event, Target, Channel], Rendered], event: Callable[[str], Event | None],
                 health: ChannelHealth, metrics, report: Callable[[list[Event]], object],
                 tick: Callable[[], object] = lambda: 0, next_flush: Callable[[], float | None] = lambda: None,
                 owner: str | None = None, lease_seconds: float = 30.0, batch: int = 64,
                 workers: int = 8, clock: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random, linger: float = 0.0):
        self.store, self.channels, self.loaded = store, channels, loaded
        self.render, self.event, self.health, self.metrics = render, event, health, metrics
        self.report, self.tick, self.next_flush = report, tick, next_flush
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.linger = linger
        self.clock = clock
        self.rand = rand
        self.on_retry_scheduled: Callable[[Notification, float], None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deliver") if workers > 1 else None
        self._send_time: dict[str, float] = {}  # channel → moving average of its send time, seconds
        self.slow_send = SLOW_SEND
        self._wake = threading.Event()
        self._last_tick = 0.0
        self._last_index = 0.0
        self.pacer = Pacer()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- one pass ---

    def run_once(self, ids: Iterable[str] | None = None) -> int:
        """Claim due notifications (or just `ids`, when due) and deliver them; returns how many.
        A general pass (no ids) first flushes due groups and escalations, at most once a second."""
        if ids is None and (self.clock() - self._last_tick >= 1.0 or self._group_due() <= self.clock()):
            self._last_tick = self.clock()
            self.tick()
        store = self.store
        claimed = store.claim(self.clock(), self.batch, self.lease_seconds, self.owner, ids)
        if not claimed:
            if ids is None:
                self._flush_index()
            return 0
        tried = [t for t in self._send_all(claimed) if t is not None]
        with store.transaction():  # one commit for the pass's results
            recorded = [(t, self._finish(*t[:4])) for t in tried]
        self._flush_index()  # once a second, in transactions of its own (short ones: intake waits on them)
        for (n, _, started, now, changed), outcome in recorded:
            if outcome is not None:
                self._after(n, *outcome, started, now, changed)
        return len(claimed)

    def _group_due(self) -> float:
        """When the next group notice is due, as far as this process knows (inf: none)."""
        at = self.next_flush()
        return float("inf") if at is None else at

    def _flush_index(self) -> None:
        """Catch the console's event-list index up, at most once a second (the list itself catches
        up fully before it reads, so it is never behind; this keeps that catch-up short)."""
        if self.clock() - self._last_index >= 1.0:
            self._last_index = self.clock()
            self.store.flush_index(INDEX_FLUSH_EVENTS)

    def _send_all(self, claimed: list[Notification]) -> list:
        """Attempt every claimed notification. A channel that answers fast (its recent sends took under
        `slow_send`, 5 ms) is sent to from this thread, one after another: on two cores that beats threads
        taking turns with the interpreter. A slow or not yet measured one is sent to concurrently, over
        at most LANES_PER_CHANNEL lanes (each sends its share in order), `workers` threads in all."""
        if self._pool is None or len(claimed) == 1:
            return [self._attempt(n) for n in claimed]
        by_channel: dict[str, list[Notification]] = {}
        for n in claimed:
            by_channel.setdefault(n.channel, []).append(n)
        inline: list[Notification] = []
        lanes: list[list[Notification]] = []
        for channel, items in by_channel.items():
            took = self._send_time.get(channel)
            if took is not None and took < self.slow_send:
                inline.extend(items)
            else:
                k = min(LANES_PER_CHANNEL, len(items))
                lanes.extend(items[i::k] for i in range(k))
        futures = [self._pool.submit(lambda lane: [self._attempt(n) for n in lane], lane) for lane in lanes]
        out = [self._attempt(n) for n in inline]
        for f in futures:
            out.extend(f.result())
        return out

    def _attempt(self, n: Notification) -> tuple[Notification, DeliveryResult, float, float, Event | None] | None:
        """Send one claimed notification and update its channel's health (so the next send of the pass
        already knows a channel that just went down): (it, the result, when the send started, when it
        ended, the channel.down/up event it caused), or None when it was handed back unsent (shutting
        down, or its channel is down)."""
        store = self.store
        if self._stop.is_set():  # shutting down: hand it back untouched, the next start sends it
            store.release([n.id], self.owner)
            return None
        if n.lease_until and self.clock() + self._send_budget(n.channel) > n.lease_until:
            # a long pass (a slow receiver): a send started now could outlast the lease, and another
            # sender could take it meanwhile and send it twice; handed back, the next pass sends it
            store.release([n.id], self.owner)
            return None
        wait = self.health.wait(n.channel, self.clock())
        if wait is not None:  # the channel is down: wait for it, spending no attempt
            store.defer(n.id, self.owner, wait, f"waiting: channel {n.channel} is down", self.clock())
            return None
        if self._paced(n):
            return None
        started = time.monotonic()
        try:
            result = self._send(n)
        except Exception as exc:  # a bug in rendering or a channel must not kill the dispatcher
            log.exception("notification %s: unexpected error", n.id)
            result = DeliveryResult.retry(f"internal error ({type(exc).__name__})")
        took = time.monotonic() - started
        before = self._send_time.get(n.channel)
        self._send_time[n.channel] = took if before is None else 0.8 * before + 0.2 * took
        now = self.clock()
        return n, result, started, now, self.health.record(n.channel, result, now)

    def _finish(self, n: Notification, result: DeliveryResult, started: float,
                now: float) -> tuple[DeliveryResult, str, float, int] | None:
        """Record the attempt and the new state: (result, status, next attempt, attempt number), or
        None when the lease was lost first."""
        number = n.attempts + 1
        policy = self._policy(n.channel)
        if result.status == "delivered":
            status, next_at = "sent", now
        elif result.status == "failed":
            status, next_at = "dead", now
        elif number >= policy.max_attempts:
            status, next_at = "dead", now
            result = DeliveryResult.retry(f"gave up after {number} attempts: {result.detail}", result.retry_after)
        else:
            status, next_at = "pending", now + backoff(policy, number, result.retry_after, self.rand())
        attempt = Attempt(n.id, number, now, result.status, result.detail, result.retry_after)
        if not self.store.finish(n, self.owner, attempt, status, next_at, now):
            log.warning("notification %s: lease lost before the result was recorded", n.id)
            return None
        return result, status, next_at, number

    def _after(self, n: Notification, result: DeliveryResult, status: str, next_at: float, number: int,
               started: float, now: float, changed: Event | None) -> None:
        """The channel's change of health as an event, metrics and the log line, once the result is recorded."""
        if changed is not None:  # a channel went down or came back: tell the operators, as an event
            log.error("%s", changed.title) if changed.kind == "channel.down" else log.info("%s", changed.title)
            self.report([changed])
        metrics = self.metrics
        metrics.send_seconds.labels(n.channel).observe(time.monotonic() - started)
        metrics.notifications.labels(n.channel, result.status).inc()
        if status == "dead":
            metrics.notifications.labels(n.channel, "dead").inc()
        elif status == "sent":
            metrics.latency.labels(n.channel).observe(max(0.0, now - n.created_at))
        extra = {"notification_id": n.id, "event_id": n.event_id}
        if status == "sent":
            log.info("notification %s delivered to %s via %s (attempt %d)", n.id, n.role, n.channel, number,
                     extra=extra)
        elif status == "dead":
            log.error("notification %s dead-lettered: %s", n.id, result.detail, extra=extra)
        else:
            log.warning("notification %s: attempt %d failed (%s); next in %.1f s", n.id, number, result.detail,
                        next_at - now, extra=extra)
            if self.on_retry_scheduled is not None:
                n.attempts, n.next_attempt_at = number, next_at
                self.on_retry_scheduled(n, next_at - now)

    def _send(self, n: Notification) -> DeliveryResult:
        event = self.event(n.event_id)
        if event is None:
            return DeliveryResult.permanent(f"event {n.event_id} is no longer in the store")
        if self.loaded.role(n.role) is None:
            return DeliveryResult.permanent(f'role "{n.role}" is no longer in routing.yaml')
        channel = self.channels.get(n.channel)
        if channel is None:
            if n.channel in self.loaded.config.channels:  # configured, but its ${ENV_VAR} is unset now
                return DeliveryResult.retry(f'channel "{n.channel}" has environment variables that are not set')
            return DeliveryResult.permanent(f'channel "{n.channel}" is no longer in routing.yaml')
        rendered = self.render(event, Target(n.route, n.role, n.channel, n.fallback_from), channel)
        result = channel.send(rendered)
        if n.fallback_from and result.status == "delivered":
            result = DeliveryResult.ok(f"{result.detail} (instead of {n.fallback_from}: its environment variables are not set)")
        return result

    def _send_budget(self, channel: str) -> float:
        """Lease time a send must still have when it starts: the channel's timeout, at most half a lease."""
        sender = self.channels.get(channel)
        return min(sender.timeout if sender is not None else DEFAULT_TIMEOUT, self.lease_seconds / 2)

    def _paced(self, n: Notification) -> bool:
        """Over its channel's rate limit: handed back, spending no attempt, due when the slot kept
        for it opens (and, on the queue-driven host, enqueued for then)."""
        limit = limit_of(self.loaded.config.channels.get(n.channel))
        if limit is None:
            return False
        now = self.clock()
        wait = self.pacer.reserve(n.channel, n.id, limit, now)
        if wait <= 0:
            return False
        self.store.defer(n.id, self.owner, now + wait,
                             f"waiting: channel {n.channel} is at its rate limit ({limit})", now)
        self.metrics.held.labels("rate_limit", n.route).inc()
        log.info("notification %s waits %.1f s for channel %s's rate limit (%s)", n.id, wait, n.channel, limit,
                 extra={"notification_id": n.id, "event_id": n.event_id})
        if self.on_retry_scheduled is not None:
            self.on_retry_scheduled(n, wait)
        return True

    def _policy(self, channel: str) -> RetryPolicy:
        cfg = self.loaded.config.channels.get(channel)
        return cfg.retry if cfg is not None else RetryPolicy()

    # --- background loop (local server) ---

    def wake(self, *_args) -> None:
        self._wake.set()

    def start(self, poll_seconds: float = 1.0) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(poll_seconds,), name="dispatcher", daemon=True)
        self._thread.start()

    def _loop(self, poll_seconds: float) -> None:
        while not self._stop.is_set():
            try:
                sent = self.run_once()
                if sent:
                    if sent < self.batch and self.linger:
                        # a trickle: let intake add a few more (and run alone, with the interpreter to
                        # itself) before the next pass; a full batch means a backlog: go on at once
                        self._stop.wait(self.linger)
                    continue
                due = self.store.next_due()
                due = min(float("inf") if due is None else due, self._group_due())
                wait = min(poll_seconds, max(0.01, due - self.clock()))
            except Exception:
                log.exception("dispatcher pass failed; retrying shortly")
                wait = poll_seconds
            self._wake.wait(wait)
            self._wake.clear()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; sends already under way finish, claimed ones not yet started are released."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
