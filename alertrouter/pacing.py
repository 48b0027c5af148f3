"""Delivery pacing: at most `count` sends to a channel in any `per` seconds (a moving window).

The per-minute budget (pipeline/budget.py) decides how many notices a channel gets in a storm and
folds the rest into a summary; pacing decides *when* each one that is sent goes out, so a burst that
the budget lets through is spread to the receiver's documented rate instead of meeting 429s. Pages
are never folded, so pacing is what keeps a storm of pages within PagerDuty's limit.

A notification over the limit is not attempted: it is handed back (no attempt spent) due at the
instant its slot opens, and that slot is kept for it, so each one waits once. Sends are counted in
the process that makes them: several instances (Functions scale-out) each keep their own pace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*(s|m|h)\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
OFF = ("0", "none", "off")


@dataclass(frozen=True)
class RateLimit:
    count: int  # 0: no limit
    per: float  # seconds

    def __str__(self) -> str:
        if not self.count:
            return "none"
        for unit, seconds in (("h", 3600.0), ("m", 60.0)):
            if self.per >= seconds and self.per % seconds == 0:
                return f"{self.count}/{self.per / seconds:g}{unit}"
        return f"{self.count}/{self.per:g}s"


# Documented limits (AZURE_FACTS): Teams webhooks throttle above 4 requests a second; PagerDuty
# Events v2 allows about 120 events a minute per integration key over a sliding minute; Graph
# sendMail 10,000 requests per 10 minutes per mailbox. Webhooks, SMTP and the log have none.
DEFAULTS = {"teams": RateLimit(4, 1.0), "pagerduty": RateLimit(120, 60.0), "email": RateLimit(10_000, 600.0)}


def parse_rate_limit(value: Any) -> RateLimit | None:
    """`4/1s`, `4/s`, `120/1m`, `10000/10m`, `100/1h`; 0, "none" or "off" for no limit; None stays None."""
    if value is None or isinstance(value, RateLimit):
        return value
    if str(value).strip().lower() in OFF:
        return RateLimit(0, 0.0)
    m = _SPEC.match(str(value)) if not isinstance(value, bool) else None
    if not m or int(m[1]) == 0 or (m[2] is not None and float(m[2]) == 0):
        raise ValueError(f'"{value}" is not a rate limit; write sends per period like 4/1s, 120/1m or '
                         f"10000/10m (0 for none)")
    return RateLimit(int(m[1]), float(m[2] or 1) * _UNITS[m[3]])


def limit_of(channel_cfg) -> RateLimit | None:
    """The channel's limit: its `rate_limit`, else its type's documented one; None for no limit."""
    if channel_cfg is None:
        return None
    limit = channel_cfg.rate_limit if channel_cfg.rate_limit is not None else DEFAULTS.get(channel_cfg.type)
    return limit if limit is not None and limit.count else None
