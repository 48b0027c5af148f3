"""Who may use the console, and the checks every page and change goes through.

- Identity, in this order: App Service authentication (Easy Auth) headers when the console is
  told it sits behind it (`ALERTROUTER_CONSOLE__EASY_AUTH`); the console's signed session cookie
  (set by signing in with the operator key); the operator key (`x-functions-key`) or an Entra
  bearer token on the request itself; with no key and no tenant configured (`serve` on loopback
  only), everyone is the local operator — except in Azure (`allow_open=False`), where nobody is.
- Reads need an identity unless the server listens on loopback (`open_reads`).
- Every change is a POST that needs an identity and a CSRF token: an HMAC of the session id in
  the cookie (SameSite=Strict, HttpOnly), checked in constant time; a cross-origin `Origin`, or a
  `Sec-Fetch-Site` of another site, is refused as well.
- Cookies and CSRF tokens are keyed with a random secret (see `console.console_key`), never with
  the API key: the cookie `GET /login` hands anyone must not let them test guesses of the key.
- Sign-in: `LOGIN_FAILURES` wrong keys a minute per client address (`LOGIN_FAILURES_ALL` from all
  addresses together), then 429 with Retry-After.
- Every page carries a Content-Security-Policy without inline scripts or styles.

No key, token or cookie value is ever put into a page, a reason or a log line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..http.auth import Authenticator, EntraValidator, KeyCheck
from .limits import FailureLimiter

COOKIE = "alertrouter_console"
SESSION_SECONDS = 12 * 3600
# Wrong keys a minute before sign-in answers 429: per client address, and from all addresses together (so
# rotating addresses, or X-Forwarded-For values uvicorn trusts from loopback, does not multiply guesses).
LOGIN_FAILURES, LOGIN_FAILURES_ALL, LOGIN_WINDOW = 5, 30, 60.0
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The email preview page: the rendered email's own inline styles, nothing else, sandboxed.
EMAIL_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'self'"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Session:
    sid: str
    who: str = ""
    exp: float = 0.0


class ConsoleSecurity:
    def __init__(self, auth: Authenticator, secret: bytes, open_reads: bool, easy_auth: bool = False,
                 easy_auth_role: str = "", secure_cookie: bool = False, allow_open: bool = True, clock=time.time):
        self.auth = auth
        self.secret = hashlib.sha256(b"alertrouter-console\x00" + secret).digest()
        self.open_reads = open_reads
        self.easy_auth = easy_auth
        self.easy_auth_role = easy_auth_role
        self.secure_cookie = secure_cookie
        self.allow_open = allow_open  # False in Azure: nothing configured must never mean "everyone"
        self.clock = clock
        self.logins = FailureLimiter(LOGIN_FAILURES, LOGIN_WINDOW)
        self.all_logins = FailureLimiter(LOGIN_FAILURES_ALL, LOGIN_WINDOW)

    # --- the cookie: a session id (for CSRF) and, once signed in, who ---

    def session(self, req) -> Session | None:
        raw = _cookies(req.header("cookie")).get(COOKIE, "")
        body, _, mac = raw.partition(".")
        if not body or not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        try:
            doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            s = Session(str(doc["sid"]), str(doc.get("who", "")), float(doc.get("exp", 0)))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if s.who and s.exp <= self.clock():
            return Session(s.sid)
        return s

    def new_session(self, who: str = "", sid: str | None = None) -> Session:
        return Session(sid or secrets.token_urlsafe(16), who, self.clock() + SESSION_SECONDS if who else 0.0)

    def set_cookie(self, s: Session) -> str:
        body = base64.urlsafe_b64encode(json.dumps({"sid": s.sid, "who": s.who, "exp": s.exp}).encode()).decode()
        body = body.rstrip("=")
        flags = "; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if self.secure_cookie else "")
        return f"{COOKIE}={body}.{self._mac('session', body)}{flags}"

    # --- identity ---

    def identity(self, req) -> str | None:
        """Who is asking, or None."""
        if self.easy_auth:
            name = req.header("x-ms-client-principal-name")
            if name and (not self.easy_auth_role or self.easy_auth_role in _principal_roles(req)):
                return name[:120]
        s = self.session(req)
        if s is not None and s.who:
            return s.who
        if self.auth.open:
            return "local operator" if self.allow_open else None
        if KeyCheck.presented(req) or EntraValidator.bearer(req) is not None:
            result = self.auth.check(req)
            if result.ok:
                return "operator key" if result.method == "key" else "Entra identity"
        return None

    def may_read(self, req) -> bool:
        return self.open_reads or self.identity(req) is not None

    def key_valid(self, key: str) -> bool:
        """Is this the operator key? (the sign-in form)"""
        if self.auth.key is None:
            return False

        class _Req:
            headers = {"x-functions-key": key}
            query: dict = {}

        return self.auth.key.check(_Req()).ok

    def login_wait(self, req) -> int:
        """Seconds before this client may try a key again (0: now)."""
        return max(self.logins.retry_after(self.client(req)), self.all_logins.retry_after(""))

    def login_failed(self, req) -> None:
        self.logins.failed(self.client(req))
        self.all_logins.failed("")

    def login_succeeded(self, req) -> None:
        self.logins.succeeded(self.client(req))

    @staticmethod
    def client(req) -> str:
        """The peer address the local server's guard passes on (hostguard.CLIENT_HEADER); "" elsewhere."""
        return req.header("x-alertrouter-client")

    # --- CSRF ---

    def csrf_token(self, s: Session) -> str:
        return self._mac("csrf", s.sid)

    def csrf_ok(self, req, form: dict[str, str]) -> bool:
        s = self.session(req)
        if s is None:
            return False
        if req.header("sec-fetch-site").strip().lower() in ("cross-site", "same-site"):
            return False  # the browser says the form was posted from a page of another site
        origin = req.header("origin")
        hosts = {req.header(h) for h in ("host", "x-forwarded-host", "x-original-host")} - {""}
        if origin and origin != "null" and urlsplit(origin).netloc not in hosts:
            return False
        return hmac.compare_digest(form.get("csrf", ""), self.csrf_token(s))

    def _mac(self, purpose: str, value: str) -> str:
        return hmac.new(self.secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()[:40]


def _cookies(header: str) -> dict[str, str]:
    out = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.setdefault(name, value)
    return out


def _principal_roles(req) -> set[str]:
    """App roles in Easy Auth's X-MS-CLIENT-PRINCIPAL (base64 JSON with claims)."""
    raw = req.header("x-ms-client-principal")
    try:
        doc = json.loads(base64.b64decode(raw + "=" * (-len(raw) % 4)))
        role_type = doc.get("role_typ", "roles")
        return {c.get("val", "") for c in doc.get("claims", []) if c.get("typ") in (role_type, "roles")}
    except (ValueError, TypeError, AttributeError, binascii.Error):
        return set()
