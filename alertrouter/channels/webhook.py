"""Generic webhook: JSON POST of `{type, timestamp, data}` to a URL from config/environment."""

from __future__ import annotations

from datetime import datetime, timezone

import requests

from ..config.load import resolve_env
from ..config.schema import WebhookChannel
from ..render import Rendered
from .base import DeliveryResult, classify


class WebhookSender:
    kind = "webhook"

    def __init__(self, name: str, cfg: WebhookChannel, session: requests.Session):
        self.name = name
        self.cfg = cfg
        self.session = session
        self._url = resolve_env(cfg.url)
        self._headers = {k: resolve_env(v) for k, v in cfg.headers.items()}

    @staticmethod
    def body(msg: Rendered) -> dict:
        return {
            "type": msg.kind,
            "timestamp": datetime.now(timezone.utc).isoformat(),
            "data": {**msg.view, "text": msg.text, "channel": msg.channel},
        }

    def send(self, msg: Rendered) -> DeliveryResult:
        try:
            resp = self.session.post(
                self._url, json=self.body(msg), headers=self._headers,
                timeout=self.cfg.timeout_seconds, allow_redirects=False,
            )
        except requests.Timeout:
            return DeliveryResult.retry(f"webhook {self.name}: no answer within {self.cfg.timeout_seconds:g} s")
        except requests.ConnectionError:
            return DeliveryResult.retry(f"webhook {self.name}: connection failed")
        except requests.RequestException as exc:  # the message may hold the URL: name the type only
            return DeliveryResult.permanent(f"webhook {self.name}: request error ({type(exc).__name__})")
        result = classify(resp.status_code, resp.headers.get("Retry-After"))
        return type(result)(result.status, f"webhook {self.name}: {result.detail}", result.retry_after)
