"""Running digests: which are due, exactly once per period, catch-up after a missed run.

    runner = DigestRunner.from_app(app)
    runner.run_due()          # the timer (every 5 minutes) and the local server's scheduler call this

A digest is due when its schedule has fired (the last fire at or before now, in its zone) and the
period that fire reports on has no record yet. So a router that was down on Monday morning sends
last week's digest at its next check, once; after several missed weeks only the latest period is
sent (older ones are stale news).

Exactly once: before sending, the runner records the period (put-if-absent on (digest, period
start)); a retried timer, a restart or a second instance finds the record and sends nothing. The
record then gets how the sending ended. If the process dies between the record and the send, that
period is not sent (at most once, never twice): `alertrouter digest NAME --send --force` sends it by
hand. Failures a channel calls retryable are retried a few times in the same run.

A period the router was not running for (a new install's "last week") is recorded as no-data and
not sent, logged once: see coverage.py for the rule.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from ..channels.base import Channel, DeliveryResult
from ..config.load import LoadedConfig
from ..config.types import LOG_CHANNEL
from ..rendering.renderer import Rendered, Renderer
from .aggregate import DigestData, collect
from .coverage import NO_DATA, NO_DATA_GRACE, NOT_YET, Coverage, coverage
from .period import Period, latest_period
from .email import render_digest, template_dirs_for
from .noise import noise_section
from .storage import PeriodLedger, detail_json

log = logging.getLogger("alertrouter.digest")

UTC = timezone.utc
SEND_ATTEMPTS = 3
RETRY_DELAYS = (5.0, 20.0)  # seconds before the 2nd and 3rd attempt (or the channel's Retry-After, capped)
MAX_RETRY_DELAY = 60.0


@dataclass
class Delivery:
    role: str
    channel: str
    result: DeliveryResult
    attempts: int
    fallback_from: str = ""


@dataclass
class DigestOutcome:
    digest: str
    period: Period
    # sent | partial | failed | no-recipients | skipped (recorded before) | no-data (recorded, not sent:
    # the router was not running in the period) | not-yet (no data so far, the period just ended)
    status: str
    deliveries: list[Delivery] = field(default_factory=list)
    messages: list[Rendered] = field(default_factory=list)
    detail: str = ""

    def summary(self) -> str:
        parts = [f"{d.role} via {d.channel}: {d.result.status} ({d.result.detail})" for d in self.deliveries]
        parts += [self.detail] if self.detail else []
        return f"digest {self.digest} {self.period.label()}: {self.status}" + (f" — {'; '.join(parts)}" if parts else "")


class DigestRunner:
    def __init__(self, loaded: LoadedConfig, store, channels: dict[str, Channel], renderer: Renderer | None = None,
                 *, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 owner: str | None = None):
        self.loaded = loaded
        self.store = store
        self.channels = channels
        self.renderer = renderer or Renderer(allow_http=loaded.config.links.allow_http)
        self.clock = clock
        self.sleep = sleep
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.ledger = PeriodLedger(store)

    @classmethod
    def from_app(cls, app, **kw) -> "DigestRunner":
        return cls(app.loaded, app.store, app.channels, app.renderer, clock=app.clock, **kw)

    @property
    def digests(self):
        return self.loaded.config.digests

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    # --- what is due ---

    def latest(self, name: str, now: datetime | None = None) -> Period:
        d = self.digests[name]
        return latest_period(d.schedule, d.period_days, d.time_zone, now or self.now())[1]

    def due(self, now: datetime | None = None) -> list[tuple[str, Period]]:
        """Digests whose latest fired period has no record yet."""
        now = now or self.now()
        out = []
        for name in self.digests:
            period = self.latest(name, now)
            if self.ledger.get(name, period.key) is None:
                out.append((name, period))
        return out

    def run_due(self, now: datetime | None = None) -> list[DigestOutcome]:
        """Send every due digest whose period this runner manages to claim. Never raises for one
        digest's failure (the others still run)."""
        out = []
        for name, period in self.due(now):
            try:
                outcome = self.send(name, period)
                if outcome.status != NOT_YET:
                    out.append(outcome)
            except Exception:  # a store or template problem in one digest must not stop the others
                log.exception("digest %s for %s failed", name, period.label())
        return out

    # --- build, render, send ---

    def build(self, name: str, period: Period) -> DigestData:
        d = self.digests[name]
        data = collect(self.store, name, period, metrics=d.metrics, sections=list(d.sections), now=self.now())
        if "noise" in d.sections:
            data.noise = noise_section(self.loaded, self.store, period.start, period.end)
        return data

    def targets(self, name: str) -> list[tuple[str, str, Channel, str]]:
        """(role, channel name, channel, fallback_from) for each email channel of the digest's roles; an email
        channel whose settings are missing falls back to the log channel, as notifications do."""
        out = []
        cfg = self.loaded.config
        for role_name in self.digests[name].roles:
            for ch_name in cfg.roles[role_name].channels:
                ch = self.channels.get(ch_name)
                if ch is None:
                    configured = cfg.channels.get(ch_name)
                    if configured is not None and configured.type in ("email", "smtp") and LOG_CHANNEL in self.channels:
                        out.append((role_name, LOG_CHANNEL, self.channels[LOG_CHANNEL], ch_name))
                    continue
                if ch.template_kind == "email" or ch.kind == "log":
                    out.append((role_name, ch_name, ch, ""))
        return out

    def render(self, name: str, period: Period, data: DigestData | None = None
               ) -> list[tuple[str, str, Channel, str, Rendered]]:
        data = data or self.build(name, period)
        d = self.digests[name]
        out = []
        for role_name, ch_name, ch, fallback_from in self.targets(name):
            role = self.loaded.config.roles[role_name]
            msg = render_digest(self.renderer, data, template=d.template, role=role_name, visibility=role.visibility,
                                channel=ch_name, recipients=role.recipients.model_dump() if role.recipients else {},
                                template_dirs=template_dirs_for(self.loaded, role_name))
            out.append((role_name, ch_name, ch, fallback_from, msg))
        return out

    def preview(self, name: str, period: Period, role: str | None = None, data: DigestData | None = None) -> Rendered:
        """The digest as `role` (default: the digest's first role) would get it; nothing is sent or recorded."""
        d = self.digests[name]
        role_name = role or d.roles[0]
        r = self.loaded.config.roles[role_name]
        return render_digest(self.renderer, data or self.build(name, period), template=d.template, role=role_name,
                             visibility=r.visibility, channel="preview",
                             recipients=r.recipients.model_dump() if r.recipients else {},
                             template_dirs=template_dirs_for(self.loaded, role_name))

    # --- was the router running? ---

    def coverage(self, name: str, period: Period, data: DigestData | None = None) -> Coverage:
        """Whether the period has data: events, quiet (sent with zeros) or no-data (not sent)."""
        return coverage(self.store, self.ledger, name, period, data)

    def _no_data(self, name: str, period: Period, reason: str) -> DigestOutcome:
        """Record the period as not sent for want of data (once: whoever claims it logs why)."""
        now = self.clock()
        if now < period.end.timestamp() + NO_DATA_GRACE:
            return DigestOutcome(name, period, NOT_YET, detail=reason)
        if not self.ledger.claim(name, period.key, period.end_local.isoformat(), self.owner, now):
            return DigestOutcome(name, period, "skipped")
        self.ledger.finish(name, period.key, NO_DATA, reason, now)
        outcome = DigestOutcome(name, period, NO_DATA, detail=f"not sent: {reason}")
        log.info("%s", outcome.summary())
        return outcome

    def send(self, name: str, period: Period, *, force: bool = False) -> DigestOutcome:
        """Render, claim the period (or, with `force`, take it regardless), then send to every target.
        Without `force`, a period the router was not running for is recorded as no-data, not sent."""
        if not force and self.ledger.get(name, period.key) is not None:
            return DigestOutcome(name, period, "skipped")
        if not force:
            cover = self.coverage(name, period)
            if cover.state == NO_DATA:
                return self._no_data(name, period, cover.reason)
        # Query and render first: if the store or a template fails, nothing is recorded and the next
        # check tries again. Then claim; only the claimant sends.
        rendered = self.render(name, period)
        now = self.clock()
        if force:
            self.ledger.force(name, period.key, period.end_local.isoformat(), self.owner, now)
        elif not self.ledger.claim(name, period.key, period.end_local.isoformat(), self.owner, now):
            log.info("digest %s for %s: already recorded; not sending again", name, period.label())
            return DigestOutcome(name, period, "skipped")
        outcome = DigestOutcome(name, period, "sent")
        for role_name, ch_name, ch, fallback_from, msg in rendered:
            result, attempts = self._deliver(ch, msg)
            outcome.deliveries.append(Delivery(role_name, ch_name, result, attempts, fallback_from))
            outcome.messages.append(msg)
        ok = [d for d in outcome.deliveries if d.result.status == "delivered"]
        if not outcome.deliveries:
            outcome.status = "no-recipients"
        elif len(ok) == len(outcome.deliveries):
            outcome.status = "sent"
        else:
            outcome.status = "partial" if ok else "failed"
        self.ledger.finish(name, period.key, outcome.status,
                           detail_json({f"{d.role}/{d.channel}": f"{d.result.status}: {d.result.detail}"
                                        for d in outcome.deliveries}), self.clock())
        level = logging.INFO if outcome.status == "sent" else logging.ERROR
        log.log(level, "%s", outcome.summary())
        return outcome

    def _deliver(self, ch: Channel, msg: Rendered) -> tuple[DeliveryResult, int]:
        result = DeliveryResult.permanent("not attempted")
        for attempt in range(1, SEND_ATTEMPTS + 1):
            try:
                result = ch.send(msg)
            except Exception as exc:  # channels should not raise; a digest must not die of one that does
                result = DeliveryResult.retry(f"{type(exc).__name__} while sending")
            if result.status != "retry" or attempt == SEND_ATTEMPTS:
                return result, attempt
            delay = RETRY_DELAYS[min(attempt - 1, len(RETRY_DELAYS) - 1)]
            self.sleep(min(MAX_RETRY_DELAY, max(delay, result.retry_after or 0)))
        return result, SEND_ATTEMPTS
