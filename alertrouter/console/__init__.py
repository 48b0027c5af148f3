"""The operator console: what the router did with every event and why, silences, the outbox,
the routing tree and status, as server-rendered pages (see `pages.Console`)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from ..app import App
from ..http.auth import Authenticator
from .pages import Console
from .security import ConsoleSecurity

LOOPBACK = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("alertrouter.console")


def build_console(app: App, auth: Authenticator | None = None, *, settings=None, open_reads: bool = False,
                  base: str = "", allow_open: bool = True, secret: bytes | None = None) -> Console:
    """The console for `app`. Its sessions and CSRF tokens are signed with `console_key(...)`."""
    auth = auth or Authenticator()
    c = settings.console if settings is not None else None
    security = ConsoleSecurity(auth, console_key(app, settings, secret), open_reads=open_reads,
                               easy_auth=bool(c and c.easy_auth), easy_auth_role=c.easy_auth_role if c else "",
                               secure_cookie=bool(c and c.secure_cookie), allow_open=allow_open)
    return Console(app, security, base)


def console_key(app: App, settings=None, secret: bytes | None = None) -> bytes:
    """The key of the console's cookies and CSRF tokens, never derived from the API key (a cookie
    anyone can get from GET /login would be an offline oracle for a weak key). In this order:
    `ALERTROUTER_CONSOLE__SECRET`; `secret` (the local server's random `console-secret` file in its
    data dir, mode 0600); under the Functions host, a key derived from the acknowledge secret, a random
    Key Vault secret every instance shares (its acknowledge links already expose it to guessing, so
    this exposes nothing new); else random for this process (sign-ins and forms then do not survive a
    restart, nor carry over between instances)."""
    configured = settings.console.secret if settings is not None else ""
    if configured:
        return configured.encode()
    if secret:
        return secret
    ack = app.pipeline.ack_secret
    if ack:
        return hmac.new(ack, b"alertrouter console sessions", hashlib.sha256).digest()
    if settings is not None:
        log.warning("console: neither ALERTROUTER_CONSOLE__SECRET nor ALERTROUTER_ACK_SECRET is set; sessions and "
                    "forms are signed with a key of this process (they fail on other instances and after a restart)")
    return secrets.token_bytes(32)


__all__ = ["Console", "ConsoleSecurity", "LOOPBACK", "build_console", "console_key"]
