"""Previews: exactly what a channel would send for an event, with the configured secrets masked
(as whole values: see `secret_pattern`)."""

from __future__ import annotations

import functools
import html
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

import requests

from ..channels.base import ChannelContext
from ..channels.build import build_channels
from ..channels.log import LogChannel, LogSender
from ..channels.registry import CHANNELS
from ..config.load import LoadedConfig
from ..config.types import LOG_CHANNEL, Target
from .notification import render_notification
from ..errors import RouterError
from ..model import Event
from ..pipeline import group
from ..rendering.renderer import Renderer
from ..routing.router import Router
from ..store.sqlite import SqliteStore

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


def mask_secrets(obj, secrets: Iterable[str]):
    """Every whole occurrence of the resolved secrets replaced by MASK, in strings, dicts and lists."""
    pattern = secret_pattern(tuple(secrets))
    return _masked(obj, pattern) if pattern is not None else obj


@functools.lru_cache(maxsize=64)
def secret_pattern(secrets: tuple[str, ...]) -> re.Pattern | None:
    """One pattern for the secrets' whole values: each as written, HTML-escaped (an email part) and
    percent-encoded (a link), and only where it is not part of a longer word: a secret whose first
    (last) character is a letter or digit is not matched after (before) one, so a placeholder secret
    `s` masks a lone "s" but not the letter in "runs"."""
    forms = set()
    for value in (s.strip() for s in secrets if s):
        if value:
            forms.update({value, html.escape(value), quote(value, safe="")})
    alternatives = [(_WORD_BEFORE if f[0].isalnum() else "") + re.escape(f) + (_WORD_AFTER if f[-1].isalnum() else "")
                    for f in sorted(forms, key=len, reverse=True)]
    return re.compile("|".join(alternatives)) if alternatives else None


_WORD_BEFORE, _WORD_AFTER = r"(?<![^\W_])", r"(?![^\W_])"  # not after / before a letter or digit


def _masked(obj, pattern: re.Pattern):
    if isinstance(obj, str):
        return pattern.sub(MASK, obj)
    if isinstance(obj, dict):
        return {k: _masked(v, pattern) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_masked(v, pattern) for v in obj]
    return obj


def previews(loaded: LoadedConfig, events: list[Event], channel_name: str, role: str | None,
             data_dir: str | Path | None = None, now: float | None = None) -> list[Preview]:
    """What `channel_name` would send for these events, as it would be sent: on a route with
    `group_by`, the group's first notice (what the events alone would make of their groups, after
    group_wait), not each event's own. With `role`, each event as that role would get it."""
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
    renderer = Renderer(allow_http=cfg.links.allow_http)
    router = Router(loaded)
    secrets = configured_secrets(loaded, ctx.data_dir, channel)
    groups = _Groups(loaded, time.time() if now is None else now)
    out = []

    def preview(event: Event, t: Target, label: str, slug: str) -> Preview:
        msg = render_notification(loaded, renderer, store, event, Target(t.route, t.role, channel_name), channel)
        return Preview(label=f"{label} for {t.role} via {channel_name} ({channel.kind}, route {t.route})",
                       slug=re.sub(r"[^A-Za-z0-9_.-]+", "-", slug), body=mask_secrets(channel.build(msg), secrets),
                       parts=mask_secrets(msg.parts, secrets), template_errors=msg.template_errors)

    for event in events:
        if role is not None:
            targets = [Target("preview", role, channel_name)]
        else:
            targets = [t for t in router.route(event).targets if channel_name in (t.channel, t.fallback_from)]
        for t in targets:
            if not groups.add(event, t):
                out.append(preview(event, t, f"{event.kind} [{event.severity.value}]",
                                   f"{event.kind}-{t.role}-{channel_name}"))
    for notice, t, what, size, wait in groups.first_notices():
        if notice is None:
            out.append(Preview(label=f"no group notice for {what} to {t.role} via {channel_name} (route {t.route}): "
                                     "its alerts resolved before the group's first notice, and a group is not "
                                     "notified of alerts that fired and resolved inside group_wait",
                               slug=re.sub(r"[^A-Za-z0-9_.-]+", "-", f"group-{what}-{t.role}-{channel_name}"),
                               body={}, parts={}))
            continue
        out.append(preview(notice, t, f"group notice {notice.kind} [{notice.severity.value}] of {what} (the group's "
                                      f"first, sent {wait:g} s after its first alert; {size} alert(s) from this "
                                      "payload)", f"group-{what}-{t.role}-{channel_name}"))
    return out


def configured_secrets(loaded: LoadedConfig, data_dir: Path, channel) -> list[str]:
    """What a preview masks: the secrets of every configured channel, not only of the one shown (a
    payload may carry another channel's webhook URL)."""
    others = build_channels(loaded, data_dir, session=requests.Session())
    return [s for ch in (channel, *others.values()) for s in ch.secret_values() if s]


class _Groups:
    """The groups the events join, in a store of their own (nothing is written to the real one), and
    their first notices as `group.flush` makes them once group_wait is over."""

    def __init__(self, loaded: LoadedConfig, now: float):
        self.routes = {r.name: r for r in loaded.config.routes}
        self.now = now
        self.store: SqliteStore | None = None
        self.keys: dict[str, tuple[Target, str, set[str]]] = {}

    def add(self, event: Event, t: Target) -> bool:
        """Put the event in its group when `t`'s route groups; False when it does not."""
        route = self.routes.get(t.route)
        if route is None or route.group_by is None:
            return False
        if self.store is None:
            self.store = SqliteStore(":memory:")
        labels = group.group_labels(event, route.group_by)
        key = group.group_key(t, labels)
        self.store.ingest([(event, [])], self.now)  # the flush reads each shown member's event
        group.add(self.store, key, t, labels, event, route.group_wait, route.group_interval, self.now)
        what = ", ".join(f"{k}={v}" for k, v in labels.items()) or route.name
        self.keys.setdefault(key, (t, what, set()))[2].add(event.fingerprint)
        return True

    def first_notices(self):
        """(notice or None, target, what the group is, members, group_wait) per group, in order."""
        for key, (t, what, fingerprints) in self.keys.items():
            route = self.routes[t.route]
            doc, version = self.store.state_get(group.KIND, key)
            notice = group.flush(self.store, key, doc, version, route.repeat_interval, self.now + route.group_wait)
            yield notice, t, what, len(fingerprints), route.group_wait
