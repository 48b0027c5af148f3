r"""The log channel: rendered notifications to the console and to a JSON-lines file.

Payload text never reaches either raw: the `log/` templates escape control characters in the
values they print (so a CR/LF in an alert name cannot start a forged line), the console block is
indented (the plain rendering, used when a template fails, escapes nothing) and shows any other
control character as an escape, and the file's JSON carries
C1, bidi and line-separator characters as `\u` escapes (JSON already escapes C0)."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import Field

from ..config.base import ChannelSettings
from ..rendering.renderer import Rendered
from ..rendering.safety import escape_controls, json_controls
from .base import Channel, ChannelContext, DeliveryResult

_lock = threading.Lock()


class LogChannel(ChannelSettings):
    """Writes rendered notifications to the console and to a JSON-lines file in the data dir."""

    type: Literal["log"]
    path: str = Field("notifications.jsonl", description="File under the data dir (or an absolute path)")
    console: bool = True


class LogSender(Channel):
    kind: ClassVar[str] = "log"
    settings: ClassVar[type[ChannelSettings]] = LogChannel
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
            line = json_controls(json.dumps(record, ensure_ascii=False))
            with _lock, open(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600),
                             "a", encoding="utf-8") as fh:  # the owner's only: a text may hold an acknowledge link
                fh.write(line + "\n")
        except OSError as exc:
            return DeliveryResult.retry(f"log {self.name}: cannot write {self.path.name} ({exc.strerror})")
        if self.cfg.console:
            print(console_block(msg), file=sys.stderr, flush=True)
        logging.getLogger("alertrouter.notify").info("%s → %s: %s", msg.role, msg.channel, msg.title)
        return DeliveryResult.ok(f"written to {self.path.name}")


def console_block(msg: Rendered) -> str:
    """The notification for the console: a header line, then the text's lines indented, so that no
    line of payload text can pass for a log line of its own, with control characters as escapes."""
    head = escape_controls(f"── {msg.role} via {msg.channel} ({msg.route})")
    return "\n".join([head, *("   " + escape_controls(line) for line in msg.text.split("\n"))]) + "\n"
