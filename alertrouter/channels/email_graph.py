"""Email through Microsoft Graph `sendMail`, with an app-only token from msal (client credentials).

One msal app per channel, built lazily on the first send (its constructor does network I/O:
OpenID discovery), then reused so its in-memory token cache serves later sends. A 401 from Graph
drops the cached token and retries once with a fresh one.

Graph's JSON `sendMail` carries one body (`contentType` Text or HTML), not multipart/alternative:
we send the HTML part as the body. The plain-text part is what the `smtp` channel sends as the
alternative, and what previews print next to the HTML.

The token comes through msal (over the channel's session); sendMail goes through the deliveries'
one transport (`channels/transport.py`), like every other POST.

Test seam: `ctx.extra["msal_http_client"]` replaces the HTTP client msal uses (by default the
channel's session, with the channel's timeout on every call).
"""

from __future__ import annotations

import json
import logging
import threading
from typing import ClassVar, Literal
from urllib.parse import quote, urlsplit

import requests
from pydantic import Field

from ..config.addresses import EmailAddress
from ..config.base import ChannelSettings
from ..config.types import RateLimit
from ..rendering.renderer import Rendered
from . import _mail
from .base import Channel, ChannelContext, DeliveryResult, classify
from .transport import client_for

log = logging.getLogger("alertrouter.channels.email")

WORLD_WIDE = "login.microsoftonline.com"
TRANSIENT_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class _TimeoutHttp:
    """msal's `http_client`: the channel's session, with a timeout on every call (msal applies its
    own `timeout` only to a session it creates itself)."""

    def __init__(self, session: requests.Session, timeout: float):
        self.session, self.timeout = session, timeout

    def get(self, url, **kw):
        kw.setdefault("timeout", self.timeout)
        return self.session.get(url, **kw)

    def post(self, url, **kw):
        kw.setdefault("timeout", self.timeout)
        return self.session.post(url, **kw)

    def close(self) -> None:  # the session is shared; its owner closes it
        pass


def _address(a: str) -> dict:
    return {"emailAddress": {"address": a}}


class EmailChannel(ChannelSettings):
    """Email through Microsoft Graph sendMail with an app-only (client credentials) token."""

    type: Literal["email"]
    tenant_id: str
    client_id: str
    client_secret: str = Field(description="A secret: ${ENV_VAR}")
    sender: str = Field(description="Mailbox (UPN or id) the mail is sent as")
    to: list[EmailAddress] = Field(default_factory=list, description="Default recipients; a role's recipients win")
    cc: list[EmailAddress] = Field(default_factory=list)
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    timeout_seconds: float = Field(15.0, gt=0, le=120)


class GraphMailSender(Channel):
    kind: ClassVar[str] = "email"
    settings: ClassVar[type[ChannelSettings]] = EmailChannel
    # Graph sendMail: 10,000 requests per 10 minutes per mailbox
    documented_limit: ClassVar[RateLimit | None] = RateLimit(10_000, 600.0)
    parts: ClassVar[tuple[str, ...]] = ("subject", "text", "html")

    def __init__(self, name: str, cfg: EmailChannel, ctx: ChannelContext):
        self.name = name
        self.cfg = cfg
        self.timeout = cfg.timeout_seconds
        self._env = ctx.env
        self.session = ctx.session
        self._http = ctx.extra.get("msal_http_client")
        self._tenant = ctx.resolve(cfg.tenant_id)
        self._client_id = ctx.resolve(cfg.client_id)
        self._secret = ctx.resolve(cfg.client_secret)
        self._sender = ctx.resolve(cfg.sender)
        self._authority = f"{ctx.resolve(cfg.authority_host).rstrip('/')}/{self._tenant}"
        graph = ctx.resolve(cfg.graph_url).rstrip("/")
        self._send_url = f"{graph}/users/{quote(self._sender, safe='@')}/sendMail"
        g = urlsplit(graph)
        self._scopes = [f"{g.scheme}://{g.netloc}/.default"]
        self._app = None  # msal.ConfidentialClientApplication, built on first send
        self._lock = threading.Lock()
        self._token = ""
        self.last_token_source = ""  # "identity_provider" or "cache", for tests and logs

    def secret_values(self) -> list[str]:
        return [v for v in (self._secret, self._token) if v]

    def build(self, msg: Rendered) -> dict:
        to, cc = _mail.recipients(msg, self.cfg.to, self.cfg.cc, self._env, f"email {self.name}")
        return {
            "message": {
                "subject": _mail.subject(msg),
                "body": {"contentType": "HTML", "content": _mail.html_body(msg)},
                "toRecipients": [_address(a) for a in to],
                "ccRecipients": [_address(a) for a in cc],
            },
            "saveToSentItems": False,
        }

    # --- token ---

    def _client(self):
        if self._app is None:
            import msal  # imported here: the app and its import stay off the cold-start path

            options = {} if urlsplit(self._authority).hostname == WORLD_WIDE else {"instance_discovery": False}
            self._app = msal.ConfidentialClientApplication(
                self._client_id, client_credential=self._secret, authority=self._authority,
                http_client=self._http or _TimeoutHttp(self.session, self.timeout), **options)
        return self._app

    def _access_token(self, label: str, fresh: bool = False) -> tuple[str, DeliveryResult | None]:
        from msal.exceptions import MsalServiceError

        t = self.timeout
        built = self._app is not None
        try:
            with self._lock:
                app = self._client()
                built = True
                if fresh:
                    app.remove_tokens_for_client()
                result = app.acquire_token_for_client(scopes=self._scopes)
        except requests.Timeout:
            return "", DeliveryResult.retry(f"{label}: token endpoint: no answer within {t:g} s")
        except requests.ConnectionError:
            return "", DeliveryResult.retry(f"{label}: token endpoint: connection failed")
        except requests.RequestException as exc:
            return "", DeliveryResult.retry(f"{label}: token endpoint: request error ({type(exc).__name__})")
        except MsalServiceError:
            return "", DeliveryResult.retry(f"{label}: token endpoint: server error")
        except (ValueError, KeyError) as exc:
            if not built:  # not an https://host/tenant authority, or its OpenID discovery failed
                log.warning("%s: cannot use authority %s (%s)", label, self._authority,
                            _mail.scrub(str(exc), self.secret_values())[:300])
                return "", DeliveryResult.permanent(
                    f"{label}: authority {self._authority} unusable (it must be https://HOST/TENANT and "
                    f"serve OpenID discovery)")
            return "", DeliveryResult.retry(f"{label}: token endpoint: unreadable answer ({type(exc).__name__})")
        if "access_token" in result:
            self._token = result["access_token"]
            self.last_token_source = result.get("token_source", "")
            return self._token, None
        error = str(result.get("error") or "unknown_error")
        description = _mail.scrub(str(result.get("error_description") or ""), self.secret_values())
        log.warning("%s: token request rejected (%s): %s", label, error,
                    (description.splitlines() or [""])[0][:300])
        if error in TRANSIENT_TOKEN_ERRORS:
            return "", DeliveryResult.retry(f"{label}: token request failed ({error})")
        return "", DeliveryResult.permanent(f"{label}: token request rejected ({error})")

    # --- send ---

    def send(self, msg: Rendered) -> DeliveryResult:
        label = f"email {self.name}"
        body = self.build(msg)
        n = len(body["message"]["toRecipients"]) + len(body["message"]["ccRecipients"])
        if not n:
            return DeliveryResult.permanent(_mail.no_recipients(label))
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        t = self.timeout
        for attempt in (1, 2):
            token, failure = self._access_token(label, fresh=attempt == 2)
            if failure:
                return failure
            try:
                answer = client_for(self.session).send(
                    self._send_url, data, {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}, t)
            except TimeoutError:
                return DeliveryResult.retry(f"{label}: Graph: no answer within {t:g} s")
            except ConnectionError:
                return DeliveryResult.retry(f"{label}: Graph: connection failed")
            except ValueError as exc:
                return DeliveryResult.permanent(f"{label}: Graph: request error ({type(exc.__cause__ or exc).__name__})")
            if answer.status != 401 or attempt == 2:
                break
            log.info("%s: Graph answered 401; dropping the cached token and trying once more", label)
        status = answer.status
        if 200 <= status < 300:
            return DeliveryResult.ok(f"{label}: HTTP {status}, sent to {n} recipient(s) "
                                     f"(token from {self.last_token_source or 'identity provider'})")
        code = _graph_error_code(answer.body)
        if status == 401:
            return DeliveryResult.permanent(f"{label}: HTTP 401 with a fresh token ({code or 'unauthorized'}; "
                                            "check the app registration)")
        if status == 403:
            return DeliveryResult.permanent(f"{label}: HTTP 403 ({code or 'forbidden'}; the app needs the Mail.Send "
                                            f"application permission for {self._sender})")
        result = classify(status, answer.retry_after)
        if code:
            result = DeliveryResult(result.status, f"{result.detail} ({code})", result.retry_after)
        return result.prefixed(label)


def _graph_error_code(body: bytes) -> str:
    """Graph's `error.code` (e.g. ErrorInvalidRecipients), if the answer's body has one."""
    try:
        code = json.loads(body).get("error", {}).get("code", "")
    except (ValueError, AttributeError):
        return ""
    return code[:80] if isinstance(code, str) else ""
