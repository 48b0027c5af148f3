"""The log channel: rendered notifications to the console and to a JSON-lines file."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

from ..config.schema import LogChannel
from ..render import Rendered
from .base import ChannelContext, DeliveryResult

_lock = threading.Lock()


class LogSender:
    kind: ClassVar[str] = "log"
    parts: ClassVar[tuple[str, ...]] = ("text",)

    def __init__(self, name: str, cfg: LogChannel, ctx: ChannelContext):
        self.name = name
        self.cfg = cfg
        path = Path(cfg.path)
        self.path = path if path.is_absolute() else Path(ctx.data_dir) / path

    def secret_values(self) -> list[str]:
        return []

    def build(self, msg: Rendered) -> dict:
        return {
            "at": datetime.now(timezone.utc).isoformat(),
            "notification_id": msg.notification_id,
            "channel": msg.channel,
            "route": msg.route,
            "role": msg.role,
            "event_id": msg.event_id,
            "kind": msg.kind,
            "severity": msg.severity,
            "title": msg.title,
            "text": msg.text,
        }

    def send(self, msg: Rendered) -> DeliveryResult:
        record = self.build(msg)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps(record, ensure_ascii=False)
            with _lock, self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            return DeliveryResult.retry(f"log {self.name}: cannot write {self.path.name} ({exc.strerror})")
        if self.cfg.console:
            print(f"── {msg.role} via {msg.channel} ({msg.route})\n{msg.text}\n", file=sys.stderr, flush=True)
        logging.getLogger("alertrouter.notify").info("%s → %s: %s", msg.role, msg.channel, msg.title)
        return DeliveryResult.ok(f"written to {self.path.name}")
