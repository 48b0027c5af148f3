"""The small values every layer shares, below config and routing: where a notification goes
(`Target`), a send rate (`RateLimit`, written `4/1s`), and the names the loader, the router and
the channels agree on (`LOG_CHANNEL`, `OWNER_PREFIX`). Imports nothing of the project."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

LOG_CHANNEL = "log"  # the built-in channel, and where a channel whose ${ENV_VAR}s are unset falls back to
OWNER_PREFIX = "owner:"  # a run owner's implicit role: `owner:<address>`


@dataclass(frozen=True, slots=True)
class Target:
    """One (route, role, channel) a notification is for."""

    route: str
    role: str
    channel: str
    fallback_from: str = ""  # the configured channel this replaced (its environment variables are not set)


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
