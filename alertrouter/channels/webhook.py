"""Generic webhook: JSON POST of `{type, timestamp, data}` to a URL from config/environment."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import ClassVar

from ..config.load import resolve_env
from ..config.schema import WebhookChannel
from ..render import Rendered
from .base import ChannelContext, DeliveryResult, post_json


class WebhookSender:
    kind: ClassVar[str] = "webhook"
    parts: ClassVar[tuple[str, ...]] = ("text",)

    def __init__(self, name: str, cfg: WebhookChannel, ctx: ChannelContext):
        self.name = name
        self.cfg = cfg
        self.session = ctx.session
        self._url = resolve_env(cfg.url)
        self._headers = {k: resolve_env(v) for k, v in cfg.headers.items()}

    def build(self, msg: Rendered) -> dict:
        return {
            "type": msg.kind,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "data": {**msg.view, "text": msg.text, "channel": msg.channel, "notification_id": msg.notification_id},
        }

    def send(self, msg: Rendered) -> DeliveryResult:
        body = json.dumps(self.build(msg)).encode()
        return post_json(self.session, self._url, body, self._headers, self.cfg.timeout_seconds,
                         f"webhook {self.name}")

    def secret_values(self) -> list[str]:
        return [v for v in (self._url, *self._headers.values()) if v]
