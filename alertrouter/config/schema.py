"""routing.yaml as typed models. Unknown keys are errors; names are cross-checked in load.py.

Secrets (URLs with signatures, keys, client secrets, passwords) are written as `${ENV_VAR}`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


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
    to: list[str] = Field(default_factory=list, description="Default recipients; a role's recipients win")
    cc: list[str] = Field(default_factory=list)
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
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
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
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)


class Role(_Strict):
    description: str = ""
    channels: list[str] = Field(min_length=1)
    visibility: Literal["full", "restricted"] = "full"
    recipients: Recipients | None = Field(None, description="Email to/cc for this role (email and smtp channels)")
    templates: str = Field("", description="Folder whose templates override the shipped ones for this role")


class Route(_Strict):
    name: str = Field(min_length=1)
    match: dict[str, Any] = Field(default_factory=dict)
    roles: list[str] = Field(description="Roles to notify; [] records the event and notifies nobody")
    continue_: bool = Field(False, alias="continue")
    templates: str = Field("", description="Folder whose templates override the role's and the shipped ones")


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


class RoutingConfig(_Strict):
    version: Literal[1] = 1
    channels: dict[str, Channel] = Field(default_factory=dict)
    roles: dict[str, Role]
    routes: list[Route] = Field(default_factory=list)
    default_route: DefaultRoute = Field(default_factory=DefaultRoute)
    digests: dict[str, Digest] = Field(default_factory=dict)
    retention_days: int = Field(90, ge=1, le=3650, description="How long events are kept for digests")
