"""The channel interface: `send(rendered) -> DeliveryResult`, never a bare bool, never a secret."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Literal, Protocol

from ..render import Rendered


@dataclass(frozen=True)
class DeliveryResult:
    status: Literal["delivered", "retry", "failed"]
    detail: str = ""
    retry_after: float | None = None  # seconds, for status "retry"

    @classmethod
    def ok(cls, detail: str = "") -> "DeliveryResult":
        return cls("delivered", detail)

    @classmethod
    def retry(cls, detail: str, after: float | None = None) -> "DeliveryResult":
        return cls("retry", detail, after)

    @classmethod
    def permanent(cls, detail: str) -> "DeliveryResult":
        return cls("failed", detail)


class Channel(Protocol):
    kind: str
    name: str

    def send(self, msg: Rendered) -> DeliveryResult: ...


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def classify(status: int, retry_after: str | None) -> DeliveryResult:
    """HTTP status → result: 2xx delivered; 408/425/429/5xx retried (honouring Retry-After); else permanent."""
    if 200 <= status < 300:
        return DeliveryResult.ok(f"HTTP {status}")
    if status in (408, 425, 429) or status >= 500:
        return DeliveryResult.retry(f"HTTP {status}", retry_after_seconds(retry_after))
    return DeliveryResult.permanent(f"HTTP {status}")
