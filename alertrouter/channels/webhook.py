"""Generic webhook: JSON POST of `{type, timestamp, data}` to a URL from config/environment, signed
per Standard Webhooks 1.0 when `signing_secret` is set.

Signing adds `webhook-id` (the notification id: the same on every retry, the receiver's
idempotency key), `webhook-timestamp` (Unix seconds of this attempt) and `webhook-signature`
(`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the base64-decoded part of
`whsec_<base64>`), computed over the exact bytes sent. Several secrets separated by spaces (for
rotation) give several space-separated signatures.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone
from typing import ClassVar, Literal

from pydantic import Field

from ..config.base import ChannelSettings
from ..rendering.renderer import Rendered
from ..rendering.safety import safe_links
from .base import Channel, ChannelContext, DeliveryResult, post_json

SECRET_PREFIX = "whsec_"
KEY_BYTES = (24, 64)  # the spec's recommended secret size


def signing_keys(name: str, value: str) -> list[bytes]:
    """HMAC keys from `whsec_<base64>` secrets (space-separated); ValueError naming the problem, never the secret."""
    keys = []
    for i, secret in enumerate(value.split(), 1):
        where = f"webhook {name}: signing_secret" + (f" #{i}" if len(value.split()) > 1 else "")
        if not secret.startswith(SECRET_PREFIX):
            raise ValueError(f"{where} must look like {SECRET_PREFIX}<base64> (Standard Webhooks format)")
        encoded = secret[len(SECRET_PREFIX):].rstrip("=")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)  # padding optional
        except (binascii.Error, ValueError):
            raise ValueError(f"{where}: the part after {SECRET_PREFIX} is not valid base64") from None
        if not KEY_BYTES[0] <= len(key) <= KEY_BYTES[1]:
            raise ValueError(f"{where} decodes to {len(key)} bytes; use {KEY_BYTES[0]}–{KEY_BYTES[1]} random bytes")
        keys.append(key)
    return keys


def signature(keys: list[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join("v1," + base64.b64encode(hmac.new(k, signed, hashlib.sha256).digest()).decode() for k in keys)


class WebhookChannel(ChannelSettings):
    """JSON POST of `{type, timestamp, data}`, signed per Standard Webhooks when a secret is set."""

    type: Literal["webhook"]
    url: str = Field(description="Target URL; a secret: write it as ${ENV_VAR}")
    signing_secret: str = Field("", description="whsec_<base64> Standard Webhooks secret; empty = unsigned")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra headers; values may use ${ENV_VAR}")
    timeout_seconds: float = Field(10.0, gt=0, le=60)


class WebhookSender(Channel):
    kind: ClassVar[str] = "webhook"
    settings: ClassVar[type[ChannelSettings]] = WebhookChannel
    parts: ClassVar[tuple[str, ...]] = ("text",)

    def __init__(self, name: str, cfg: WebhookChannel, ctx: ChannelContext):
        self.name = name
        self.cfg = cfg
        self.timeout = cfg.timeout_seconds
        self.session = ctx.session
        self._url = ctx.resolve(cfg.url)
        self._headers = {k: ctx.resolve(v) for k, v in cfg.headers.items()}
        self._secret = ctx.resolve(cfg.signing_secret).strip()
        self._keys = signing_keys(name, self._secret) if self._secret else []

    def build(self, msg: Rendered) -> dict:
        data = {**msg.view, "text": msg.text, "channel": msg.channel, "notification_id": msg.notification_id}
        if isinstance(data.get("links"), dict):  # http(s) only, whatever built the view
            data["links"] = safe_links(data["links"], allow_http=True)
        return {"type": msg.kind, "timestamp": datetime.now(timezone.utc).isoformat(), "data": data}

    def signed_headers(self, msg: Rendered, body: bytes, now: float | None = None) -> dict[str, str]:
        """The Standard Webhooks headers for `body` (empty when the channel has no secret)."""
        if not self._keys:
            return {}
        msg_id = message_id(msg)
        ts = int(time.time() if now is None else now)
        return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
                "webhook-signature": signature(self._keys, msg_id, ts, body)}

    def send(self, msg: Rendered) -> DeliveryResult:
        body = json.dumps(self.build(msg)).encode()
        headers = {**self._headers, **self.signed_headers(msg, body)}
        return post_json(self.session, self._url, body, headers, self.timeout, f"webhook {self.name}",
                         self.secret_values())

    def secret_values(self) -> list[str]:
        return [v for v in (self._url, *self._headers.values(), *self._secret.split()) if v]


def message_id(msg: Rendered) -> str:
    """The notification id (stable across retries); ids may not contain '.', so one is derived if needed."""
    nid = msg.notification_id
    if nid and "." not in nid:
        return nid
    key = "\x1f".join((nid, msg.event_id, msg.route, msg.role, msg.channel))
    return "msg_" + hashlib.sha256(key.encode()).hexdigest()[:32]
