"""The channel base class, the shared result type and HTTP status policy.

A channel kind is a `Channel` subclass that says what it is on the class:

    kind              the `type:` in routing.yaml
    settings          its routing.yaml model (a `config.base.ChannelSettings`), in the same module
    parts             text parts the renderer fills (title, text, html…)
    template_kind     the template folder it renders from (default: its kind)
    documented_limit  the receiver's documented rate limit (None: none)
    pages             whether a Sev0/Sev1 notice to it is a page (never folded into a summary)
    timeout           seconds one send may take (an instance's comes from its settings)

and does `build(msg)` (exactly what would be sent, JSON-able, for previews), `send(msg)` and
`secret_values()` (resolved secrets, masked in previews). A channel's constructor is
`(name, cfg, ctx: ChannelContext)`. `send` never raises for delivery problems and never puts a
secret (URL, key, token, password) into a result or a log line.
"""

from __future__ import annotations

import email.utils
import logging
import os
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar, Iterable, Literal, Mapping
from urllib.parse import urlsplit

import requests

from ..config.base import ChannelSettings
from ..config.env import resolve_env
from ..config.types import RateLimit
from ..rendering.renderer import Rendered
from .answer import answer_secrets, with_answer
from .transport import client_for

log = logging.getLogger("alertrouter.http")


@dataclass(frozen=True, slots=True)
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

    def prefixed(self, prefix: str) -> "DeliveryResult":
        return DeliveryResult(self.status, f"{prefix}: {self.detail}", self.retry_after)


@dataclass
class ChannelContext:
    session: requests.Session
    data_dir: Path
    extra: dict = field(default_factory=dict)  # test seams (e.g. an msal http_client)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)  # where ${ENV_VAR}s resolve

    def resolve(self, value: str) -> str:
        """A config string with its ${ENV_VAR} references filled in."""
        return resolve_env(value, self.env)


DEFAULT_TIMEOUT = 10.0


class Channel:
    kind: ClassVar[str]
    settings: ClassVar[type[ChannelSettings]]
    parts: ClassVar[tuple[str, ...]]
    template_kind: ClassVar[str]  # set to `kind` when a subclass does not name another
    documented_limit: ClassVar[RateLimit | None] = None
    pages: ClassVar[bool] = False
    timeout: float = DEFAULT_TIMEOUT
    name: str

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        if "template_kind" not in cls.__dict__:
            cls.template_kind = cls.kind

    def build(self, msg: Rendered) -> dict:
        raise NotImplementedError

    def send(self, msg: Rendered) -> DeliveryResult:
        raise NotImplementedError

    def secret_values(self) -> list[str]:
        return []


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
    if status in (401, 403):
        return DeliveryResult.permanent(f"HTTP {status} (check the channel's credentials)")
    return DeliveryResult.permanent(f"HTTP {status}")


def _answered(status: int, retry_after: str | None, answer: bytes, url: str, secrets: Iterable[str],
              label: str) -> DeliveryResult:
    """The result of an answer; a failure keeps the answer's first bytes, secrets masked."""
    result = classify(status, retry_after)
    if result.status != "delivered" and answer:
        result = replace(result, detail=with_answer(result.detail, answer, answer_secrets(url, secrets)))
    return result.prefixed(label)


def post_json(session: requests.Session, url: str, body: bytes, headers: dict[str, str], timeout: float,
              label: str, secrets: Iterable[str] = ()) -> DeliveryResult:
    """POST bytes, map the outcome to a DeliveryResult. Transport errors name their type only: their
    messages carry the URL, which may hold a secret. A refusal keeps the first bytes of the answer
    with the URL, its query values and `secrets` (the channel's) masked."""
    try:
        answer = client_for(session).send(url, body, {"Content-Type": "application/json", **headers}, timeout)
    except TimeoutError:
        return DeliveryResult.retry(f"{label}: no answer within {timeout:g} s")
    except ConnectionError:
        return DeliveryResult.retry(f"{label}: connection failed")
    except ValueError as exc:
        return DeliveryResult.permanent(f"{label}: request error ({type(exc.__cause__ or exc).__name__})")
    if log.isEnabledFor(logging.DEBUG):  # the host only: paths and query strings may hold secrets
        log.debug("POST to %s: HTTP %d", urlsplit(url).netloc.rpartition("@")[2], answer.status)
    return _answered(answer.status, answer.retry_after, answer.body, url, secrets, label)
