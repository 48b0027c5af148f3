"""The one event model every inbound adapter produces."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Severity(str, Enum):
    """Azure's Sev0–Sev4, named. Ordered from most to least urgent."""

    critical = "critical"  # Sev0
    error = "error"  # Sev1
    warning = "warning"  # Sev2
    informational = "informational"  # Sev3
    verbose = "verbose"  # Sev4

    @property
    def rank(self) -> int:
        """0 for critical … 4 for verbose (the Azure SevN number)."""
        return _RANK[self]


_RANK = {s: i for i, s in enumerate(Severity)}

KINDS = (
    "run.started",
    "run.completed",
    "run.failed",
    "run.canceled",
    "run.status_changed",
    "run.stuck",
    "run.stuck_resolved",
    "run.missing",
    "run.missing_resolved",
    "model.registered",
    "model.deployed",
    "dataset.drift_detected",
    "alert.fired",
    "alert.resolved",
    "alert.acknowledged",
    "channel.down",
    "channel.up",
    "event.other",
)

Source = Literal["aml", "azure-monitor", "eventgrid", "router"]  # router: its own notices (a channel down)


class Event(BaseModel):
    """A normalized event.

    `id` is the idempotency key (the same delivery twice has the same id);
    `fingerprint` names "the same thing" across deliveries (one alert fired then
    resolved, one run started then completed) for grouping and pairing.
    `labels` is a flat string map routes match on; `details` holds facts for
    people with full visibility (run properties, metric criteria…).
    """

    model_config = ConfigDict(frozen=True)

    id: str
    source: Source
    kind: str
    severity: Severity
    title: str
    summary: str = ""
    time: datetime
    # when what this event ends began, as its source states it (a resolved common-schema alert's
    # firedDateTime); rendering takes a duration from it before asking the store for the start
    started_at: datetime | None = None
    fingerprint: str
    labels: dict[str, str] = Field(default_factory=dict)
    links: dict[str, str] = Field(default_factory=dict)
    details: dict[str, str] = Field(default_factory=dict)
    # a group notice's shown members (pipeline/group.notice): title, severity, time, firing, the labels
    # people act on and the member's own links; empty for every other event
    members: list[dict[str, Any]] = Field(default_factory=list)
    raw: Any = None

    def match_value(self, key: str) -> str | None:
        """The value a route matcher sees for `key`: event fields first, then labels."""
        if key == "source":
            return self.source
        if key == "kind":
            return self.kind
        if key == "severity":
            return self.severity.value
        return self.labels.get(key)

    def brief(self) -> dict[str, Any]:
        """A JSON-ready view without the raw payload."""
        return self.model_dump(mode="json", exclude={"raw"})
