"""What the two email channels (Graph `email`, `smtp`) share: recipients, the subject line, the
bodies, a stable Message-ID and secret scrubbing.

Both channels render the same templates (`templates/email/…`): a channel's `template_kind` names
the template folder when it differs from its `kind`.
"""

from __future__ import annotations

import hashlib
import re
import typing

from ..config.load import resolve_list
from ..render import Rendered, plain

SUBJECT_LIMIT = 250
_SPACE = re.compile(r"\s+")
_ID_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MASK = "<redacted>"


def recipients(msg: Rendered, to: list[str], cc: list[str],
               env: typing.Mapping[str, str] | None = None) -> tuple[list[str], list[str]]:
    """The role's to/cc when it names anyone, else the channel's; ${ENV_VAR}s resolved (a variable
    may hold several comma-separated addresses); duplicates dropped, cc never repeats a to."""
    role = msg.recipients or {}
    r_to, r_cc = resolve_list(role.get("to") or [], env), resolve_list(role.get("cc") or [], env)
    if not (r_to or r_cc):
        r_to, r_cc = resolve_list(to, env), resolve_list(cc, env)
    out_to = list(dict.fromkeys(r_to))
    seen = {a.lower() for a in out_to}
    out_cc = [a for a in dict.fromkeys(r_cc) if a.lower() not in seen]
    return out_to, out_cc


def no_recipients(channel: str) -> str:
    return (f"{channel}: no recipients (set `recipients.to` on the role or `to` on the channel; "
            "check that their ${ENV_VAR}s are set)")


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
