"""routing.yaml as typed models. Unknown keys are errors; names are cross-checked in load.py.

Secrets (URLs with signatures, keys, client secrets, passwords) are written as `${ENV_VAR}`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..addresses import EmailAddress, EmailDomain
from .types import RateLimit, parse_rate_limit


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RetryPolicy(_Strict):
    """When a delivery fails in a way worth retrying: exponential backoff with jitter, honouring
    Retry-After, then a dead letter after the last attempt."""

    max_attempts: int = Field(12, ge=1, le=100, description="Attempts in all, the first included")
    backoff_seconds: float = Field(5.0, gt=0, description="Delay before the second attempt")
    max_backoff_seconds: float = Field(3600.0, gt=0, description="Cap on one delay")


class _ChannelBase(_Strict):
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    budget_per_minute: int | None = Field(None, ge=0, description="Notices a minute before the rest are folded "
                                                                  "into a summary; unset = the receiver's "
                                                                  "documented limit; 0 = none")
    rate_limit: Annotated[Optional[RateLimit], BeforeValidator(parse_rate_limit)] = Field(
        None, description="Sends per period, e.g. 4/1s or 120/1m, spread over the period (a send over it waits "
                          "for its slot); unset = the receiver's documented limit; 0 = none")


class WebhookChannel(_ChannelBase):
    """JSON POST of `{type, timestamp, data}`, signed per Standard Webhooks when a secret is set."""

    type: Literal["webhook"]
    url: str = Field(description="Target URL; a secret: write it as ${ENV_VAR}")
    signing_secret: str = Field("", description="whsec_<base64> Standard Webhooks secret; empty = unsigned")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers; values may use ${ENV_VAR}")
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class LogChannel(_ChannelBase):
    """Writes rendered notifications to the console and to a JSON-lines file in the data dir."""

    type: Literal["log"]
    path: str = Field("notifications.jsonl", description="File under the data dir (or an absolute path)")
    console: bool = True


class TeamsChannel(_ChannelBase):
    """Microsoft Teams through a Workflows (Power Automate) 'Teams webhook' URL: an Adaptive Card."""

    type: Literal["teams"]
    url: str = Field(description="The Workflows webhook URL as Teams gives it (a secret: ${ENV_VAR})")
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class EmailChannel(_ChannelBase):
    """Email through Microsoft Graph sendMail with an app-only (client credentials) token."""

    type: Literal["email"]
    tenant_id: str
    client_id: str
    client_secret: str = Field(description="A secret: ${ENV_VAR}")
    sender: str = Field(description="Mailbox (UPN or id) the mail is sent as")
    to: list[EmailAddress] = Field(default_factory=list, description="Default recipients; a role's recipients win")
    cc: list[EmailAddress] = Field(default_factory=list)
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    timeout_seconds: float = Field(15.0, gt=0, le=120)


class SmtpChannel(_ChannelBase):
    """The same email over SMTP (STARTTLS and auth optional)."""

    type: Literal["smtp"]
    host: str
    port: int = Field(587, gt=0, lt=65536)
    starttls: bool = True
    ssl: bool = Field(False, description="Implicit TLS (port 465) instead of STARTTLS")
    username: str = ""
    password: str = Field("", description="A secret: ${ENV_VAR}")
    sender: str
    to: list[EmailAddress] = Field(default_factory=list)
    cc: list[EmailAddress] = Field(default_factory=list)
    timeout_seconds: float = Field(15.0, gt=0, le=120)


class PagerDutyChannel(_ChannelBase):
    """PagerDuty Events API v2: trigger on fired, resolve on resolved, dedup key from the fingerprint."""

    type: Literal["pagerduty"]
    routing_key: str = Field(description="Integration (routing) key; a secret: ${ENV_VAR}")
    url: str = "https://events.pagerduty.com/v2/enqueue"
    timeout_seconds: float = Field(10.0, gt=0, le=60)


Channel = Annotated[
    Union[WebhookChannel, LogChannel, TeamsChannel, EmailChannel, SmtpChannel, PagerDutyChannel],
    Field(discriminator="type"),
]
CHANNEL_TYPES = ("email", "log", "pagerduty", "smtp", "teams", "webhook")


class Recipients(_Strict):
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


class TimeRange(_Strict):
    days: list[Literal[DAYS]] = Field(default_factory=lambda: list(DAYS))  # type: ignore[valid-type]
    start: str = Field("00:00", pattern=_CLOCK.pattern, description="HH:MM, local time")
    end: str = Field("24:00", pattern=_CLOCK.pattern, description="HH:MM, local time; 24:00 = end of day")


class TimeWindow(_Strict):
    """A named schedule (business hours, weekends, quiet hours) in an IANA time zone."""

    time_zone: str = "UTC"
    ranges: list[TimeRange] = Field(min_length=1)


class InhibitRule(_Strict):
    """While an alert matching `source` fires, hold events matching `target` that share the `equal` labels."""

    name: str = ""
    source: dict[str, Any] = Field(description="Matchers for the firing alert that inhibits")
    target: dict[str, Any] = Field(description="Matchers for the events held back")
    equal: list[str] = Field(default_factory=list, description="Labels that must have the same value on both")


class Escalation(_Strict):
    after: Duration = Field(description="How long an unacknowledged notification waits, e.g. 15m")
    to: list[str] = Field(min_length=1, description="Roles notified when nobody acknowledged in time")


class Role(_Strict):
    description: str = ""
    channels: list[str] = Field(min_length=1)
    visibility: Literal["full", "restricted"] = "full"
    recipients: Recipients | None = Field(None, description="Email to/cc for this role (email and smtp channels)")
    templates: str = Field("", description="Folder whose templates override the shipped ones for this role")
    active_during: list[str] = Field(default_factory=list, description="Time windows outside which it waits")
    muted_during: list[str] = Field(default_factory=list, description="Time windows during which it waits")


class Route(_Strict):
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


class DefaultRoute(_Strict):
    roles: list[str] = Field(default_factory=list)
    templates: str = ""


DIGEST_SECTIONS = ("runs", "experiments", "models", "drift", "alerts", "resolution", "metrics", "cost")


class Digest(_Strict):
    """A periodic summary email (e.g. the analysts' Monday report), built from the store."""

    schedule: str = Field(description='NCRONTAB, 6 fields with seconds first, e.g. "0 0 8 * * Mon"')
    time_zone: str = Field("UTC", description="IANA zone the schedule and the period's days are in")
    roles: list[str] = Field(min_length=1, description="Who receives it (their email channels)")
    period_days: int = Field(7, ge=1, le=92, description="Length of the period the digest covers")
    template: str = Field("digest", description="Template name under templates/email/")
    sections: list[Literal[DIGEST_SECTIONS]] = Field(default_factory=lambda: list(DIGEST_SECTIONS))  # type: ignore[valid-type]
    metrics: list[str] = Field(default_factory=list,
                               description="Run metric names (from run tags/properties) to chart per experiment")


class LearnedLimit(_Strict):
    factor: float = Field(3.0, gt=1, description="k in k × the median duration")
    last: int = Field(10, ge=1, le=100, description="How many of the experiment's last completed runs count")
    min_runs: int = Field(3, ge=1, description="Completed runs needed before the learned limit applies")
    floor: Duration = Field(1800.0, description="Never less than this")


class MissingRun(_Strict):
    """A dead man's switch: the experiment must start `every` so often, or by `grace` after each
    time its `schedule` fires."""

    experiment: str
    every: Duration | None = None
    schedule: str | None = Field(None, description='NCRONTAB of the expected start, e.g. "0 0 2 * * *"')
    grace: Duration = Field(3600.0, description="How late a scheduled start may be")
    time_zone: str = "UTC"


class RunWatch(_Strict):
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


class RunOwners(_Strict):
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


class Links(_Strict):
    """Which links notifications may carry. Links come only from the fields the inbound adapters know
    are links (studio, portal, investigation, search results); any other scheme (javascript:, data:…)
    is never sent, and neither is a URL with spaces, control characters or credentials in it."""

    allow_http: bool = Field(False, description="Also send plain http:// links (https only when false; "
                                                "http to a loopback host is always allowed)")


class RoutingConfig(_Strict):
    version: Literal[1] = 1
    channels: dict[str, Channel] = Field(default_factory=dict)
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
