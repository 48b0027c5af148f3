"""What the two email channels (Graph `email`, `smtp`) share: recipients, the subject line, the
bodies, a stable Message-ID and secret scrubbing.

Both channels render the same templates (`templates/email/…`): a channel's `template_kind` names
the template folder when it differs from its `kind`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import typing

from ..config import addresses
from ..config.types import OWNER_PREFIX
from ..rendering.renderer import Rendered, plain

SUBJECT_LIMIT = 250
_SPACE = re.compile(r"\s+")
_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MASK = "<redacted>"
log = logging.getLogger("alertrouter.channels.mail")


def recipients(msg: Rendered, to: list[str], cc: list[str], env: typing.Mapping[str, str] | None = None,
               label: str = "mail") -> tuple[list[str], list[str]]:
    """The role's to/cc when it names anyone, else the channel's; ${ENV_VAR}s resolved (a variable
    may hold several addresses, separated by commas or semicolons); every address checked
    (alertrouter/config/addresses.py) and normalized, a bad one left out with a log line that names its key
    and variable but not the value; duplicates dropped, cc never repeats a to.

    A run owner's role (`owner:<address>`) holds the one address the router checked against the
    allowed domains: it is taken as it is (no ${ENV_VAR} resolution, no splitting) and never falls
    back to the channel's recipients."""
    role = msg.recipients or {}
    if msg.role.startswith(OWNER_PREFIX):
        r_to, r_cc = _owner(role.get("to") or [], label), _owner(role.get("cc") or [], label)
    else:
        key = f"roles.{msg.role}.recipients"
        r_to = _checked(role.get("to") or [], env, label, f"{key}.to")
        r_cc = _checked(role.get("cc") or [], env, label, f"{key}.cc")
        if not (r_to or r_cc):
            r_to = _checked(to, env, label, f"channels.{msg.channel}.to")
            r_cc = _checked(cc, env, label, f"channels.{msg.channel}.cc")
    out_to = list(dict.fromkeys(r_to))
    seen = {a.lower() for a in out_to}
    out_cc = [a for a in dict.fromkeys(r_cc) if a.lower() not in seen]
    return out_to, out_cc


def _checked(values: list[str], env: typing.Mapping[str, str] | None, label: str, key: str) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(values):
        refs, items = addresses.expand(value, os.environ if env is None else env)
        for item in items:
            try:
                out.append(addresses.parse(item))
            except addresses.AddressError as exc:
                log.warning("%s: %s[%d]%s: a value %s; not sending to it (write one bare address like %s)",
                            label, key, i, f" (from {refs})" if refs else "", exc.reason, addresses.EXAMPLE)
    return out


def _owner(values: list[str], label: str) -> list[str]:
    out: list[str] = []
    for value in values:
        try:
            checked = addresses.parse(value).lower()
        except addresses.AddressError as exc:
            checked = ""
            reason = exc.reason
        else:
            reason = "changes when checked again"
        if checked and checked == value:
            out.append(value)
        else:  # the router hands over checked addresses only: this is a defence, not a path
            log.warning("%s: a run owner's address %s; not sending to it", label, reason)
    return out


def no_recipients(channel: str) -> str:
    return (f"{channel}: no recipients (set `recipients.to` on the role or `to` on the channel; "
            "check that their ${ENV_VAR}s are set and hold bare addresses)")


def subject(msg: Rendered) -> str:
    """One line (a header cannot hold a line break), at most SUBJECT_LIMIT characters."""
    text = _SPACE.sub(" ", msg.parts.get("subject") or msg.title or "").strip()
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


def text_body(msg: Rendered) -> str:
    return msg.parts.get("text") or plain(msg.view, "text")


def html_body(msg: Rendered) -> str:
    return msg.parts.get("html") or plain(msg.view, "html")


def message_id(msg: Rendered, sender: str) -> str:
    """A Message-ID that is the same on every attempt of one notification (receivers and threads can
    spot a retried duplicate)."""
    local = _ID_SAFE.sub("-", msg.notification_id) if msg.notification_id else "n_" + hashlib.sha256(
        "\x1f".join((msg.event_id, msg.route, msg.role, msg.channel)).encode()).hexdigest()[:32]
    domain = sender.rpartition("@")[2] or "alertrouter.invalid"
    return f"<{local}.alertrouter@{domain}>"


def scrub(text: str, secrets: list[str]) -> str:
    """`text` with every secret value masked (for server messages that go into results and logs)."""
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(s, MASK)
    return text
