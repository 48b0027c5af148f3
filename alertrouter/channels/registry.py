"""Channel kinds, written out: one line per kind."""

from __future__ import annotations

from pathlib import Path

import requests

from ..config.load import LOG_CHANNEL, LoadedConfig
from ..config.schema import LogChannel
from .base import Channel
from .http import make_session
from .log import LogSender
from .webhook import WebhookSender

CHANNELS = {
    "log": LogSender,
    "webhook": WebhookSender,
}


def build_channels(loaded: LoadedConfig, data_dir: Path, session: requests.Session | None = None) -> dict[str, Channel]:
    """Instantiate every configured channel whose settings are complete, plus the built-in log channel."""
    session = session or make_session()
    out: dict[str, Channel] = {}
    for name, cfg in loaded.config.channels.items():
        if name in loaded.unresolved:
            continue
        if cfg.type == "log":
            out[name] = LogSender(name, cfg, data_dir)
        else:
            out[name] = CHANNELS[cfg.type](name, cfg, session)
    out.setdefault(LOG_CHANNEL, LogSender(LOG_CHANNEL, LogChannel(type="log"), data_dir))
    return out
