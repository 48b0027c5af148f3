"""The operator console: what the router did with every event and why, silences, the outbox,
the routing tree and status, as server-rendered pages (see `pages.Console`)."""

from __future__ import annotations

import secrets

from ..app import App
from ..auth import Authenticator
from .pages import Console
from .security import ConsoleSecurity

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def build_console(app: App, auth: Authenticator | None = None, *, settings=None, open_reads: bool = False,
                  base: str = "", allow_open: bool = True) -> Console:
    """The console for `app`. Sessions and CSRF tokens are signed with `ALERTROUTER_CONSOLE__SECRET`,
    else a key derived from the operator key or the acknowledge secret (so every instance agrees),
    else a random key of this process."""
    auth = auth or Authenticator()
    c = getattr(settings, "console", None)
    secret = ((c.secret if c else "") or (getattr(settings, "api_key", "") or "")
              or (getattr(settings, "ack_secret", "") or "")).encode() or secrets.token_bytes(32)
    security = ConsoleSecurity(auth, secret, open_reads=open_reads, easy_auth=bool(c and c.easy_auth),
                               easy_auth_role=c.easy_auth_role if c else "", secure_cookie=bool(c and c.secure_cookie),
                               allow_open=allow_open)
    return Console(app, security, base)


__all__ = ["Console", "ConsoleSecurity", "LOOPBACK", "build_console"]
