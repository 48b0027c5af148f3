"""The same email over SMTP: multipart/alternative (text + HTML), STARTTLS and AUTH optional.

Outcomes: a 2xx reply delivers; 535 (authentication) and other 5xx replies fail permanently; 4xx
replies (421, 450, 451, 452), refused connections, timeouts and dropped connections are retried.
The Message-ID comes from the notification id, so a retried message carries the same id.

Test seam: `ctx.extra["smtp_ssl_context"]` (an `ssl.SSLContext`) replaces the default
certificate-verifying context for STARTTLS and implicit TLS.
"""

from __future__ import annotations

import email.utils
import logging
import smtplib
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from typing import ClassVar, Literal

from pydantic import Field

from ..config.addresses import EmailAddress
from ..config.base import ChannelSettings
from ..rendering.renderer import Rendered
from . import _mail
from .base import Channel, ChannelContext, DeliveryResult

log = logging.getLogger("alertrouter.channels.smtp")


class SmtpChannel(ChannelSettings):
    """The same email over SMTP (STARTTLS and auth optional)."""

    type: Literal["smtp"]
    host: str
    port: int = Field(587, gt=0, lt=65536)
    starttls: bool = True
    ssl: bool = Field(False, description="Implicit TLS (port 465) instead of STARTTLS")
    username: str = ""
    password: str = Field("", description="A secret: ${ENV_VAR}")
    sender: str
    to: list[EmailAddress] = Field(default_factory=list)
    cc: list[EmailAddress] = Field(default_factory=list)
    timeout_seconds: float = Field(15.0, gt=0, le=120)


class SmtpMailSender(Channel):
    kind: ClassVar[str] = "smtp"
    settings: ClassVar[type[ChannelSettings]] = SmtpChannel
    template_kind: ClassVar[str] = "email"
    parts: ClassVar[tuple[str, ...]] = ("subject", "text", "html")

    def __init__(self, name: str, cfg: SmtpChannel, ctx: ChannelContext):
        self.name = name
        self.cfg = cfg
        self.timeout = cfg.timeout_seconds
        self._env = ctx.env
        self._host = ctx.resolve(cfg.host)
        self._username = ctx.resolve(cfg.username)
        self._password = ctx.resolve(cfg.password)
        self._sender = ctx.resolve(cfg.sender)
        self._tls = ctx.extra.get("smtp_ssl_context")

    def secret_values(self) -> list[str]:
        return [self._password] if self._password else []

    def build(self, msg: Rendered) -> dict:
        to, cc = _mail.recipients(msg, self.cfg.to, self.cfg.cc, self._env, f"smtp {self.name}")
        return {
            "from": self._sender,
            "to": to,
            "cc": cc,
            "subject": _mail.subject(msg),
            "message_id": _mail.message_id(msg, self._sender),
            "text": _mail.text_body(msg),
            "html": _mail.html_body(msg),
        }

    @staticmethod
    def message(built: dict) -> EmailMessage:
        """The MIME message for a `build()` result: multipart/alternative, text first, HTML last
        (clients show the last part they can render)."""
        m = EmailMessage()
        m["From"] = built["from"]
        # the checked addresses as header objects: the header is written from them, not re-parsed
        # from a string (Address raises if an addr-spec would not come back the same)
        if built["to"]:
            m["To"] = [Address(addr_spec=a) for a in built["to"]]
        if built["cc"]:
            m["Cc"] = [Address(addr_spec=a) for a in built["cc"]]
        m["Subject"] = built["subject"]
        m["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        m["Message-ID"] = built["message_id"]
        m["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
        m.set_content(built["text"])
        m.add_alternative(built["html"], subtype="html")
        return m

    def _context(self) -> ssl.SSLContext:
        return self._tls or ssl.create_default_context()

    def send(self, msg: Rendered) -> DeliveryResult:
        label = f"smtp {self.name}"
        built = self.build(msg)
        rcpts = built["to"] + built["cc"]
        if not rcpts:
            return DeliveryResult.permanent(_mail.no_recipients(label))
        mime = self.message(built)
        t = self.timeout
        smtp: smtplib.SMTP | None = None
        done = False  # reached the end of the dialogue: say QUIT; after a failure just close
        try:
            if self.cfg.ssl:
                smtp = smtplib.SMTP_SSL(self._host, self.cfg.port, timeout=t, context=self._context())
            else:
                smtp = smtplib.SMTP(self._host, self.cfg.port, timeout=t)
            smtp.ehlo()
            if not self.cfg.ssl and self.cfg.starttls:
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                elif self._username:
                    done = True
                    return DeliveryResult.permanent(
                        f"{label}: the server does not offer STARTTLS; not sending the password in clear "
                        "(set `ssl: true` for port 465, or `starttls: false` on a trusted network)")
                else:
                    log.info("%s: %s:%s does not offer STARTTLS; sending without TLS", label, self._host,
                             self.cfg.port)
            if self._username:
                smtp.login(self._username, self._password)
            refused = smtp.send_message(mime, from_addr=self._sender, to_addrs=rcpts)
            done = True
        except smtplib.SMTPAuthenticationError as exc:
            done = True
            return DeliveryResult.permanent(f"{label}: authentication failed ({exc.smtp_code})")
        except smtplib.SMTPNotSupportedError:
            return DeliveryResult.permanent(f"{label}: the server does not offer AUTH (remove `username`, or "
                                            "enable STARTTLS: many servers offer AUTH only after it)")
        except smtplib.SMTPRecipientsRefused as exc:
            return self._refused(label, exc.recipients)
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, connect refused, 421…
            return self._reply(label, exc.smtp_code, exc.smtp_error)
        except smtplib.SMTPServerDisconnected as exc:
            if isinstance(exc.__context__, TimeoutError):  # smtplib turns a read timeout into this
                return DeliveryResult.retry(f"{label}: no answer within {t:g} s")
            return DeliveryResult.retry(f"{label}: the server closed the connection")
        except ssl.SSLCertVerificationError as exc:
            return DeliveryResult.permanent(f"{label}: TLS certificate not trusted ({exc.verify_message})")
        except ssl.SSLError as exc:
            return DeliveryResult.retry(f"{label}: TLS error ({exc.reason or type(exc).__name__})")
        except smtplib.SMTPException as exc:
            return DeliveryResult.permanent(f"{label}: {type(exc).__name__}")
        except (socket.timeout, TimeoutError):
            return DeliveryResult.retry(f"{label}: no answer within {t:g} s")
        except ConnectionRefusedError:
            return DeliveryResult.retry(f"{label}: connection refused by {self._host}:{self.cfg.port}")
        except socket.gaierror:
            return DeliveryResult.retry(f"{label}: cannot resolve {self._host}")
        except OSError as exc:
            return DeliveryResult.retry(f"{label}: connection failed ({type(exc).__name__})")
        finally:
            if smtp is not None:
                _close(smtp, polite=done)
        if refused:
            log.warning("%s: %d of %d recipient(s) refused: %s", label, len(refused), len(rcpts),
                        ", ".join(f"{a} ({code})" for a, (code, _) in refused.items()))
            return DeliveryResult.ok(f"{label}: 250, sent to {len(rcpts) - len(refused)} of {len(rcpts)} "
                                     f"recipient(s); refused: {', '.join(refused)}")
        return DeliveryResult.ok(f"{label}: 250, sent to {len(rcpts)} recipient(s)")

    def _text(self, reply: bytes | str) -> str:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        return _mail.scrub(" ".join(text.split()), self.secret_values())[:200]

    def _reply(self, label: str, code: int, reply: bytes | str) -> DeliveryResult:
        detail = f"{label}: server answered {code} {self._text(reply)}".rstrip()
        if 400 <= code < 500 or code == -1:
            return DeliveryResult.retry(detail)
        return DeliveryResult.permanent(detail)

    def _refused(self, label: str, refused: dict) -> DeliveryResult:
        """Every recipient refused: retried if any refusal was temporary (4xx)."""
        codes = {a: code for a, (code, _) in refused.items()}
        what = ", ".join(f"{a} ({c})" for a, c in codes.items())
        first = next(iter(refused.values()))
        detail = f"{label}: all recipients refused: {what}: {self._text(first[1])}"
        if any(400 <= c < 500 for c in codes.values()):
            return DeliveryResult.retry(detail)
        return DeliveryResult.permanent(detail)


def _close(smtp: smtplib.SMTP, polite: bool) -> None:
    try:
        if polite:
            smtp.quit()
            return
    except (smtplib.SMTPException, OSError):
        pass
    smtp.close()
