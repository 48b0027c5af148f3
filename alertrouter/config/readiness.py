"""What a readable config still lacks to send as written, said as warnings (`FILE:LINE PATH: …`):

- a channel whose ${ENV_VAR}s are not set: its notifications go to the `log` channel (`unresolved`);
- a role whose email recipients resolve to nobody (`["${QA_EMAIL_TO}"]` with the variable unset,
  and the channel names nobody either): that role's email goes to the `log` channel (`unaddressed`)
  instead of a mail with no recipient;
- a channel whose settings, as the environment resolves them, its sender refuses (a
  `signing_secret` not in `whsec_<base64>` form, or of the wrong size): that is a problem, not a warning, since the router refuses to start with it (`problems`);
- a channel secret shorter than MIN_SECRET characters: a placeholder, and masking it would hide
  ordinary text that happens to equal it. A secret is whatever the channel's sender names in
  `secret_values()`, the list previews, the console and kept answers mask.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel

from ..channels.base import ChannelContext
from ..channels.registry import CHANNELS
from . import addresses
from .env import ENV_REF, resolve_env
from .messages import Locator, path_of
from .schema import RoutingConfig

MIN_SECRET = 8
MAIL_TYPES = ("email", "smtp")


@dataclass
class Readiness:
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what the router would refuse to start with
    unresolved: dict[str, list[str]] = field(default_factory=dict)  # channel -> missing env vars
    unaddressed: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (role, channel) -> env vars


def readiness(cfg: RoutingConfig, env: typing.Mapping[str, str], name: str, locator: Locator) -> Readiness:
    out = Readiness()

    def warn(loc: tuple, msg: str) -> None:
        out.warnings.append(f"{name}:{locator.line(loc)} {path_of(loc)}: {msg}")

    def refuse(loc: tuple, msg: str) -> None:
        out.problems.append(f"{name}:{locator.line(loc)} {path_of(loc)}: {msg}")

    for ch_name, ch in cfg.channels.items():
        for fname, value in string_fields(ch):
            missing = [v for v in ENV_REF.findall(value) if not env.get(v)]
            if missing:
                out.unresolved.setdefault(ch_name, []).extend(missing)
                warn(("channels", ch_name) + fname, f"environment variable {', '.join(missing)} is not set; "
                     f'notifications for channel "{ch_name}" go to the log channel until it is')
    _recipients(cfg, env, out, warn)
    _built(cfg, env, out, warn, refuse)
    return out


def _resolved(values: list[str], env: typing.Mapping[str, str]) -> list[str]:
    """The addresses a recipient list stands for, as the mail channels resolve and check them."""
    found = []
    for value in values:
        for item in addresses.expand(value, env)[1]:
            try:
                found.append(addresses.parse(item))
            except addresses.AddressError:
                pass
    return found


def _recipients(cfg: RoutingConfig, env, out: Readiness, warn) -> None:
    for role_name, role in cfg.roles.items():
        mail = [c for c in role.channels if getattr(cfg.channels.get(c), "type", "") in MAIL_TYPES]
        if not mail:
            continue
        written = role.recipients or None
        values = [*written.to, *written.cc] if written else []
        variables = list(dict.fromkeys(v for value in values for v in ENV_REF.findall(value)))
        unset = [v for v in variables if not env.get(v)]
        key = ("roles", role_name, "recipients", "to" if written and written.to else "cc") if values \
            else ("roles", role_name)
        if values and _resolved(values, env):
            if unset:
                warn(key, f"environment variable {', '.join(unset)} is not set; the role's email reaches only "
                     "the other recipients until it is")
            continue
        for ch_name in mail:
            ch = cfg.channels[ch_name]
            if _resolved([*ch.to, *ch.cc], env):
                if values:
                    warn(key, f"{_why(unset, variables)}, so the role's recipients resolve to nobody; its email "
                         f'through "{ch_name}" goes to the channel\'s own recipients (channels.{ch_name}.to) '
                         "until it is set")
                continue
            out.unaddressed[(role_name, ch_name)] = unset
            if values:
                warn(key, f"{_why(unset, variables)}, so the role's recipients resolve to nobody; its email "
                     f'through "{ch_name}" goes to the log channel until it is set')
            else:
                warn(key, f'no email recipients for channel "{ch_name}": set recipients.to on the role (or to '
                     "on the channel); until then its email goes to the log channel")


def _why(unset: list[str], variables: list[str]) -> str:
    if unset:
        return f"environment variable {', '.join(unset)} is not set"
    if variables:
        return f"environment variable {', '.join(variables)} holds no valid address"
    return "no valid address is written"


def _built(cfg: RoutingConfig, env, out: Readiness, warn, refuse) -> None:
    """Build each resolved channel's sender as the router will (nothing is sent): what it refuses
    is a problem; the secrets it names are checked for length. The sender's messages name the
    setting and what is wrong, never the value."""
    ctx = ChannelContext(session=None, data_dir=Path("."), env=env)  # type: ignore[arg-type]  (nothing is sent)
    for ch_name, ch in cfg.channels.items():
        if ch_name in out.unresolved:
            continue
        try:
            secrets = CHANNELS[ch.type](ch_name, ch, ctx).secret_values()
        except ValueError as exc:
            refuse(("channels", ch_name), f"{exc}; the router refuses to start with this channel as the environment "
                   "sets it: fix the value (or its environment variable)")
            continue
        short = [s for s in secrets if s and len(s.strip()) < MIN_SECRET]
        for fname, value in string_fields(ch) if short else ():
            if any(s in _parts(resolve_env(value, env)) for s in short):
                refs = ", ".join(f"${{{v}}}" for v in ENV_REF.findall(value))
                warn(("channels", ch_name) + fname,
                     f"a secret {'from ' + refs + ' ' if refs else ''}is shorter than {MIN_SECRET} characters; "
                     "that looks like a placeholder, and masking it would hide the same text wherever it appears in "
                     "previews, the console and kept answers: set the real secret")


def _parts(text: str) -> set[str]:
    """The values a setting may hand a sender as a secret: the whole text, its space-separated
    words (several signing secrets) and, for a URL, its query values (a Workflows `sig=`)."""
    query = parse_qs(urlsplit(text).query) if "?" in text else {}
    return {text, text.strip(), *text.split(), *(v for vs in query.values() for v in vs)}


def string_fields(ch: BaseModel):
    """((field,) or (field, key/index), text) for every string a channel's settings hold."""
    for fname, value in ch:
        if isinstance(value, str):
            yield (fname,), value
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, str):
                    yield (fname, k), v
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, str):
                    yield (fname, i), v
