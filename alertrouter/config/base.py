"""The model bases routing.yaml is read with: strict models (an unknown key is an error) and the
settings every channel has, whatever its type (retry policy, per-minute budget, rate limit).

Each channel type's own settings model sits beside its sender (`channels/<type>.py`) and extends
`ChannelSettings`; `config/schema.py` gathers them from the channel registry."""

from __future__ import annotations

from typing import Annotated, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .types import RateLimit, parse_rate_limit


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RetryPolicy(Strict):
    """When a delivery fails in a way worth retrying: exponential backoff with jitter, honouring
    Retry-After, then a dead letter after the last attempt."""

    max_attempts: int = Field(12, ge=1, le=100, description="Attempts in all, the first included")
    backoff_seconds: float = Field(5.0, gt=0, description="Delay before the second attempt")
    max_backoff_seconds: float = Field(3600.0, gt=0, description="Cap on one delay")


class ChannelSettings(Strict):
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    budget_per_minute: int | None = Field(None, ge=0, description="Notices a minute before the rest are folded "
                                                                  "into a summary; unset = the receiver's "
                                                                  "documented limit; 0 = none")
    rate_limit: Annotated[Optional[RateLimit], BeforeValidator(parse_rate_limit)] = Field(
        None, description="Sends per period, e.g. 4/1s or 120/1m, spread over the period (a send over it waits "
                          "for its slot); unset = the receiver's documented limit; 0 = none")
