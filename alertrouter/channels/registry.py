"""The one list of channel kinds: the `type:` routing.yaml names → the `Channel` class that sends it.

What a kind is (its settings model, documented rate limit, paging, template kind, timeout) is said
on its class; `config/schema.py` builds the `channels:` union from the classes' settings models."""

from __future__ import annotations

from .base import Channel
from .email_graph import GraphMailSender
from .email_smtp import SmtpMailSender
from .log import LogSender
from .pagerduty import PagerDutySender
from .teams import TeamsSender
from .webhook import WebhookSender

CHANNELS: dict[str, type[Channel]] = {cls.kind: cls for cls in (
    GraphMailSender,
    LogSender,
    PagerDutySender,
    SmtpMailSender,
    TeamsSender,
    WebhookSender,
)}


def channel_class(kind: str) -> type[Channel]:
    """The class of the channel kind `kind` (a validated config only names registered kinds)."""
    return CHANNELS[kind]
