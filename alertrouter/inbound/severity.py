"""Lookup tables: Azure severities and conditions onto our model.

Defaults for events that carry no severity (documented in the README):

    run.failed            error
    run.canceled          warning
    dataset.drift_detected warning
    run.completed, run.started, model.registered, model.deployed   informational
    run.status_changed, event.other                                 verbose
    alert with no severity (cost budgets)                           warning
"""

from __future__ import annotations

from typing import Any

from ..model import Severity

SEV = {
    "sev0": Severity.critical,
    "sev1": Severity.error,
    "sev2": Severity.warning,
    "sev3": Severity.informational,
    "sev4": Severity.verbose,
}

KIND_DEFAULT = {
    "run.failed": Severity.error,
    "run.canceled": Severity.warning,
    "dataset.drift_detected": Severity.warning,
    "run.completed": Severity.informational,
    "run.started": Severity.informational,
    "model.registered": Severity.informational,
    "model.deployed": Severity.informational,
    "run.status_changed": Severity.verbose,
    "run.stuck": Severity.warning,
    "run.stuck_resolved": Severity.informational,
    "run.missing": Severity.error,
    "run.missing_resolved": Severity.informational,
    "event.other": Severity.verbose,
    "alert.fired": Severity.warning,
    "alert.resolved": Severity.warning,
    "alert.acknowledged": Severity.informational,
    "channel.down": Severity.error,
    "channel.up": Severity.informational,
}


def from_azure(value: Any, kind: str) -> Severity:
    """'Sev3', 'sev3', '3', 3 → informational; anything else → the kind's default."""
    if value is None or value == "":
        return KIND_DEFAULT.get(kind, Severity.verbose)
    text = str(value).strip().lower()
    if text.isdigit():
        text = "sev" + text
    return SEV.get(text) or WORDS.get(text) or KIND_DEFAULT.get(kind, Severity.verbose)


# Activity-log `level` and legacy log-alert `Severity` words; integers are .NET EventLevel
# (1 Critical … 5 Verbose), which is what integer-typed service-health payloads carry.
WORDS = {
    "critical": Severity.critical,
    "error": Severity.error,
    "warning": Severity.warning,
    "informational": Severity.informational,
    "information": Severity.informational,
    "info": Severity.informational,
    "verbose": Severity.verbose,
}
EVENT_LEVEL = {1: "Critical", 2: "Error", 3: "Warning", 4: "Informational", 5: "Verbose"}


def level_name(value: Any) -> str:
    """Activity-log level as a word, whether it came as 'Warning', 3 or '3'."""
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        return EVENT_LEVEL.get(int(value), str(value))
    return "" if value is None else str(value)


# AML job status vocabulary (compared case-insensitively).
RUN_STATUS_KIND = {
    "running": "run.started",
    "completed": "run.completed",
    "finished": "run.completed",
    "failed": "run.failed",
    "canceled": "run.canceled",
    "cancelled": "run.canceled",
}


def run_kind(status: str | None) -> str:
    return RUN_STATUS_KIND.get((status or "").strip().lower(), "run.status_changed")
