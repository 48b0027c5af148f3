"""The channels of a loaded config: one sender per configured channel whose settings are
complete (every ${ENV_VAR} set), plus the built-in log channel."""

from __future__ import annotations

from pathlib import Path

import requests

from ..config.load import LoadedConfig
from ..config.types import LOG_CHANNEL
from .base import Channel, ChannelContext
from .transport import make_session
from .log import LogChannel, LogSender
from .registry import CHANNELS


def build_channels(loaded: LoadedConfig, data_dir: Path, session: requests.Session | None = None,
                   extra: dict | None = None) -> dict[str, Channel]:
    """Instantiate every configured channel whose settings are complete, plus the built-in log channel."""
    ctx = ChannelContext(session=session or make_session(), data_dir=Path(data_dir), extra=extra or {},
                         env=loaded.env)
    out: dict[str, Channel] = {}
    for name, cfg in loaded.config.channels.items():
        if name in loaded.unresolved:
            continue
        out[name] = CHANNELS[cfg.type](name, cfg, ctx)
    out.setdefault(LOG_CHANNEL, LogSender(LOG_CHANNEL, LogChannel(type="log"), ctx))
    return out
