"""Previews: exactly what a channel would send for an event, with the channel's secrets masked."""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import requests

from .app import render_notification
from .channels.base import ChannelContext
from .channels.registry import CHANNELS
from .channels.log import LogSender
from .config.load import LOG_CHANNEL, LoadedConfig
from .config.schema import LogChannel
from .errors import RouterError
from .model import Event
from .render import Renderer
from .routing.router import Router, Target
from .store.sqlite import SqliteStore

MASK = "<redacted>"


class PreviewError(RouterError):
    pass


@dataclass
class Preview:
    label: str
    slug: str
    body: dict
    parts: dict[str, str]
    template_errors: dict[str, str] = field(default_factory=dict)

    @property
    def json_text(self) -> str:
        return json.dumps(self.body, indent=2, ensure_ascii=False)

    def write(self, out: Path) -> list[Path]:
        out.mkdir(parents=True, exist_ok=True)
        written = [out / f"{self.slug}.json"]
        written[0].write_text(self.json_text + "\n", encoding="utf-8")
        for part, ext in (("html", "html"), ("text", "txt")):
            if part in self.parts:
                path = out / f"{self.slug}.{ext}"
                text = self.parts[part]
                path.write_text((mask_as_html_text(text) if ext == "html" else text) + "\n", encoding="utf-8")
                written.append(path)
        return written


def mask_as_html_text(html_text: str) -> str:
    """In an HTML part, the mask written as text: "<redacted>" would be read as an unknown tag and vanish."""
    return html_text.replace(MASK, html.escape(MASK))


def mask_secrets(obj, secrets: list[str]):
    """Every occurrence of the channel's resolved secrets replaced by MASK, in strings, dicts and lists."""
    if isinstance(obj, str):
        for s in secrets:
            obj = obj.replace(s, MASK)
        return obj
    if isinstance(obj, dict):
        return {k: mask_secrets(v, secrets) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask_secrets(v, secrets) for v in obj]
    return obj


def previews(loaded: LoadedConfig, events: list[Event], channel_name: str, role: str | None,
             data_dir: str | Path | None = None) -> list[Preview]:
    cfg = loaded.config
    ctx = ChannelContext(session=requests.Session(), data_dir=Path(data_dir or ".data"), env=loaded.env)
    if channel_name == LOG_CHANNEL and LOG_CHANNEL not in cfg.channels:
        channel = LogSender(LOG_CHANNEL, LogChannel(type="log"), ctx)
    elif channel_name in cfg.channels:
        ch_cfg = cfg.channels[channel_name]
        channel = CHANNELS[ch_cfg.type](channel_name, ch_cfg, ctx)
    else:
        raise PreviewError(f'unknown channel "{channel_name}"; channels: {", ".join(sorted(cfg.channels))}, log')
    if role is not None and role not in cfg.roles:
        raise PreviewError(f'unknown role "{role}"; roles: {", ".join(sorted(cfg.roles))}')
    store_path = Path(data_dir) / "alertrouter.db" if data_dir else None
    store = SqliteStore(store_path) if store_path and store_path.exists() else None
    renderer = Renderer()
    router = Router(loaded)
    secrets = sorted((s for s in channel.secret_values() if s), key=len, reverse=True)
    out = []
    for event in events:
        if role is not None:
            targets = [Target("preview", role, channel_name)]
        else:
            targets = [t for t in router.route(event).targets if channel_name in (t.channel, t.fallback_from)]
        for t in targets:
            target = Target(t.route, t.role, channel_name)
            msg = render_notification(loaded, renderer, store, event, target, channel)
            slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{event.kind}-{t.role}-{channel_name}")
            out.append(Preview(
                label=f"{event.kind} [{event.severity.value}] for {t.role} via {channel_name} ({channel.kind}, "
                      f"route {t.route})",
                slug=slug, body=mask_secrets(channel.build(msg), secrets), parts=mask_secrets(msg.parts, secrets),
                template_errors=msg.template_errors,
            ))
    return out
