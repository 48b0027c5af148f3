"""routing.yaml as typed models. Unknown keys are errors; names are cross-checked in load.py.

A channel's settings model sits beside its sender (`channels/<type>.py`); the `channels:` union is
built from the channel registry, discriminated on `type`.

Secrets (URLs with signatures, keys, client secrets, passwords) are written as `${ENV_VAR}`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from .addresses import EmailAddress, EmailDomain
from ..channels.registry import CHANNELS
from .base import Strict


AnyChannel = Annotated[Union[tuple(cls.settings for cls in CHANNELS.values())], Field(discriminator="type")]
CHANNEL_TYPES = tuple(CHANNELS)


class Recipients(Strict):
    to: list[EmailAddress] = Field(default_factory=list)
    cc: list[EmailAddress] = Field(default_factory=list)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> float:
    """'30s', '5m', '4h', '1d', '2w' (or a number of seconds) → seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f'"{value}" is not a duration; write it like 30s, 5m, 4h, 1d or 2w')
    return float(m[1]) * DURATION_UNITS[m[2]]


Duration = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]


def parse_age_limit(value: Any) -> float | None:
    """A duration, or 0 / none / null for no limit."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "0")):
        return None
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError("expected a duration like 7d or 12h, or none for no limit")
    if isinstance(value, (int, float)) and value < 0:
        raise ValueError(f"{value} is negative; write a duration like 7d or 12h, or none for no limit")
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise ValueError(f'"{value}" is not a duration; write it like 7d or 12h, or none for no limit') from None
    return seconds or None
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")


class TimeRange(Strict):
    days: list[Literal[DAYS]] = Field(default_factory=lambda: list(DAYS))  # type: ignore[valid-type]
    start: str = Field("00:00", pattern=_CLOCK.pattern, description="HH:MM, local time")
    end: str = Field("24:00", pattern=_CLOCK.pattern, description="HH:MM, local time; 24:00 = end of day")


class TimeWindow(Strict):
    """A named schedule (business hours, weekends, quiet hours) in an IANA time zone."""

    time_zone: str = "UTC"
    ranges: list[TimeRange] = Field(min_length=1)


class InhibitRule(Strict):
    """While an alert matching `source` fires, hold events matching `target` that share the `equal` labels."""

    name: str = ""
    source: dict[str, Any] = Field(description="Matchers for the firing alert that inhibits")
    target: dict[str, Any] = Field(description="Matchers for the events held back")
    equal: list[str] = Field(default_factory=list, description="Labels that must have the same value on both")


class Escalation(Strict):
    after: Duration = Field(description="How long an unacknowledged notification waits, e.g. 15m")
    to: list[str] = Field(min_length=1, description="Roles notified when nobody acknowledged in time")


def _show_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise PydanticCustomError("show_name", "an empty name; write the run tag or property to show, e.g. accuracy")
    return name


class Role(Strict):
    description: str = ""
    channels: list[str] = Field(min_length=1)
    visibility: Literal["full", "restricted"] = "full"
    show: list[Annotated[str, AfterValidator(_show_name)]] = Field(
        default_factory=list, description="Run (model, deployment) tags and properties a restricted role sees, "
                                          "by name, on its card and email; nothing else of them")
    recipients: Recipients | None = Field(None, description="Email to/cc for this role (email and smtp channels)")
    templates: str = Field("", description="Folder whose templates override the shipped ones for this role")
    active_during: list[str] = Field(default_factory=list, description="Time windows outside which it waits")
    muted_during: list[str] = Field(default_factory=list, description="Time windows during which it waits")

    @field_validator("show")
    @classmethod
    def _show_is_for_restricted(cls, names: list[str], info: ValidationInfo) -> list[str]:
        if names and info.data.get("visibility") == "full":
            raise PydanticCustomError("show_full", "show is for a role with visibility: restricted (this role sees "
                                      "every tag and property already); set visibility: restricted or remove show")
        return names


class Route(Strict):
    name: str = Field(min_length=1)
    match: dict[str, Any] = Field(default_factory=dict)
    roles: list[str] = Field(description="Roles to notify; [] records the event and notifies nobody")
    continue_: bool = Field(False, alias="continue")
    templates: str = Field("", description="Folder whose templates override the role's and the shipped ones")
    group_by: list[str] | None = Field(None, description="Labels that make a group; unset = one notification "
                                                         "per event")
    group_wait: Duration = Field(30.0, description="Wait before a new group's first notification")
    group_interval: Duration = Field(300.0, description="Wait before notifying a group's changes")
    repeat_interval: Duration = Field(14400.0, description="Re-notify a group still firing and unchanged")
    active_during: list[str] = Field(default_factory=list)
    muted_during: list[str] = Field(default_factory=list)
    escalate: Escalation | None = None


class DefaultRoute(Strict):
    roles: list[str] = Field(default_factory=list)
    templates: str = ""


DIGEST_SECTIONS = ("runs", "experiments", "models", "drift", "alerts", "resolution", "metrics", "cost")
OPTIONAL_DIGEST_SECTIONS = ("noise",)  # only where listed: the noise report's top offenders, for engineers


class Digest(Strict):
    """A periodic summary email (e.g. the analysts' Monday report), built from the store."""

    schedule: str = Field(description='NCRONTAB, 6 fields with seconds first, e.g. "0 0 8 * * Mon"')
    time_zone: str = Field("UTC", description="IANA zone the schedule and the period's days are in")
    roles: list[str] = Field(min_length=1, description="Who receives it (their email channels)")
    period_days: int = Field(7, ge=1, le=92, description="Length of the period the digest covers")
    template: str = Field("digest", description="Template name under templates/email/")
    sections: list[Literal[DIGEST_SECTIONS + OPTIONAL_DIGEST_SECTIONS]] = Field(default_factory=lambda: list(DIGEST_SECTIONS))  # type: ignore[valid-type]
    metrics: list[str] = Field(default_factory=list,
                               description="Run metric names (from run tags/properties) to chart per experiment")


class LearnedLimit(Strict):
    factor: float = Field(3.0, gt=1, description="k in k × the median duration")
    last: int = Field(10, ge=1, le=100, description="How many of the experiment's last completed runs count")
    min_runs: int = Field(3, ge=1, description="Completed runs needed before the learned limit applies")
    floor: Duration = Field(1800.0, description="Never less than this")


class MissingRun(Strict):
    """A dead man's switch: the experiment must start `every` so often, or by `grace` after each
    time its `schedule` fires."""

    experiment: str
    every: Duration | None = None
    schedule: str | None = Field(None, description='NCRONTAB of the expected start, e.g. "0 0 2 * * *"')
    grace: Duration = Field(3600.0, description="How late a scheduled start may be")
    time_zone: str = "UTC"


class RunWatch(Strict):
    """Runs that hang and pipelines that stopped running."""

    stuck_after: Duration | None = Field(None, description="Default limit for a run with no end; unset = "
                                                           "only per-experiment or learned limits")
    experiments: dict[str, Duration] = Field(default_factory=dict, description="Fixed limits by experiment")
    learn: LearnedLimit | None = Field(default_factory=LearnedLimit)
    missing: list[MissingRun] = Field(default_factory=list)
    max_event_age: Annotated[Optional[float], BeforeValidator(parse_age_limit)] = Field(
        604800.0, description="A run.started older than this when it is taken in (a replayed or sample "
                              "event) is stored and routed but watched for nothing: no stuck-run watch, and "
                              "not a start for `missing`; its end still ends a watch. 0 or none = no limit")


class RunOwners(Strict):
    """Send a run's notices to the people its tags name, as well as to the roles. Anyone who can
    submit a run can set its tags, so only aliases and address domains listed here are honoured."""

    tag: str = Field("notify", description="Run tag holding addresses or aliases, comma-separated")
    submitter_tag: str = Field("", description='Tag naming who submitted the run, e.g. "mlflow.user"; '
                                              "offered the same way (empty: off)")
    channel: str = Field(description="The email (or smtp) channel owners are reached through")
    aliases: dict[str, list[EmailAddress]] = Field(default_factory=dict, description="alias -> addresses")
    allowed_domains: list[EmailDomain] = Field(default_factory=list, description="Address domains a tag may name "
                                                                                 "(exact match: list subdomains too)")
    kinds: list[str] = Field(default_factory=lambda: ["run.completed", "run.failed", "run.canceled", "run.stuck"],
                             description="Which run notices reach the owners")


class Links(Strict):
    """Which links notifications may carry. Links come only from the fields the inbound adapters know
    are links (studio, portal, investigation, search results); any other scheme (javascript:, data:…)
    is never sent, and neither is a URL with spaces, control characters or credentials in it."""

    allow_http: bool = Field(False, description="Also send plain http:// links (https only when false; "
                                                "http to a loopback host is always allowed)")


class RoutingConfig(Strict):
    version: Literal[1] = 1
    channels: dict[str, AnyChannel] = Field(default_factory=dict)
    roles: dict[str, Role]
    routes: list[Route] = Field(default_factory=list)
    default_route: DefaultRoute = Field(default_factory=DefaultRoute)
    digests: dict[str, Digest] = Field(default_factory=dict)
    time_windows: dict[str, TimeWindow] = Field(default_factory=dict)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    run_watch: RunWatch | None = None
    run_owners: RunOwners | None = None
    links: Links = Field(default_factory=Links)
    retention_days: int = Field(90, ge=1, le=3650, description="How long events are kept for digests")
