"""Email addresses: the one place that decides what a recipient is.

An address is accepted only as a bare RFC 5322 `addr-spec` with a dot-atom local part and a domain
name: `name@contoso.com`. Everything a mail parser could read two ways is refused rather than
guessed at: display names and angle brackets, comments in parentheses, quoted local parts and
backslash escapes, route syntax (`@a.example:b@c.example`) and the relay forms `%` and `!`
(`evil.example!ana@contoso.com`, `ana%evil.example@contoso.com`), group syntax, IP-literal domains
(`[1.2.3.4]`), more than one `@`, an empty local part, whitespace and control characters, an
`${ENV_VAR}` reference (an address from a run tag is never resolved against the environment), and any
non-ASCII character (an internationalized domain is accepted in its ASCII `xn--` form, which is the
form its allow-list entry is compared in; a Unicode lookalike never becomes an allowed domain).

The syntax itself is checked by `email-validator` (strict, no DNS look-up); the checks before it
only give precise reasons. The address handed on is the normalized one (the domain lower-cased),
and it is checked once more to be read back unchanged by Python's own mail parsers
(`email.utils.parseaddr`, which `smtplib` uses for `RCPT TO`, and `email.headerregistry`, which
builds the `To` header): what was checked is what is sent.

Allowed domains match exactly (case-insensitive): `contoso.com` does not allow
`eu.contoso.com` nor `contoso.com.evil.example`; list each domain that may be named.
"""

from __future__ import annotations

import email.utils
import functools
import re
import typing
from email.headerregistry import Address
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from .env import ENV_REF

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SEPARATORS = re.compile(r"[,;]")
EXAMPLE = "name@contoso.com"
MAX_LENGTH = 254  # RFC 5321's limit on a forward path, less its angle brackets


class AddressError(ValueError):
    """Why a string is not an address we send to. `reason` never repeats the input, so it can go
    into a log line about a value taken from the environment; `detail` may."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason = reason
        self.detail = detail


def _precheck(text: str) -> str | None:
    """A precise reason for the common ways an input is not one bare address, or None."""
    if not text:
        return "is empty"
    if len(text) > MAX_LENGTH:
        return f"is longer than {MAX_LENGTH} characters"
    if _CONTROL.search(text):
        return "contains a control character (line break, tab, NUL…)"
    if not text.isascii():
        return "contains non-ASCII characters (write an internationalized domain in its xn-- form)"
    if "${" in text:
        return "holds an ${ENV_VAR} reference"
    if "<" in text or ">" in text:
        return "has a display name or angle brackets"
    if '"' in text:
        return "has quotes (a quoted local part or display name)"
    if "(" in text or ")" in text:
        return "has a comment in parentheses"
    if "\\" in text:
        return "has a backslash escape"
    if _SEPARATORS.search(text):
        return "holds more than one address"
    if " " in text:
        return "contains a space"
    if "[" in text or "]" in text:
        return "has an IP-literal domain in brackets"
    if ":" in text:
        return 'has route or group syntax (":")'
    if "%" in text or "!" in text:
        return 'has "%" or "!" (old relay-routing forms some servers still honour)'
    at = text.count("@")
    if at == 0:
        return 'has no "@"'
    if at > 1:
        return 'has more than one "@"'
    if text.startswith("@"):
        return 'has nothing before the "@"'
    return None


def parse(text: str) -> str:
    """The normalized address (`local@domain`, the domain lower-case ASCII) for one bare address;
    AddressError otherwise."""
    if not isinstance(text, str):
        raise AddressError("is not a string")
    return _parse(text)


@functools.lru_cache(maxsize=4096)  # the same owners and recipients come back; a refusal is not kept
def _parse(text: str) -> str:
    reason = _precheck(text)
    if reason:
        raise AddressError(reason)
    try:
        v = validate_email(text, check_deliverability=False, allow_smtputf8=False, allow_empty_local=False,
                           allow_quoted_local=False, allow_domain_literal=False, allow_display_name=False,
                           strict=True, globally_deliverable=True)
    except EmailNotValidError as exc:
        detail = str(exc).rstrip(".")
        raise AddressError("is not a valid address", detail[:1].lower() + detail[1:]) from None
    address = f"{v.local_part}@{v.ascii_domain.lower()}"
    if email.utils.parseaddr(address) != ("", address) or Address(addr_spec=address).addr_spec != address:
        raise AddressError("would be read differently by the mail libraries")  # pragma: no cover (defence)
    return address


def domain(address: str) -> str:
    """The domain of an address `parse` returned."""
    return address.rpartition("@")[2]


def parse_domain(text: str) -> str:
    """An allow-list entry: a domain name (a leading "@" is dropped), lower-case ASCII."""
    if not isinstance(text, str):
        raise AddressError("is not a string")
    name = text[1:] if text.startswith("@") else text
    if "*" in name:
        raise AddressError("is a wildcard (domains match exactly: list each one)")
    if "@" in name:
        raise AddressError("is an address, not a domain")
    try:
        return domain(parse(f"x@{name}"))
    except AddressError as exc:
        raise AddressError(f"is not a domain name: it {exc.reason}", exc.detail) from None


def split(text: str) -> list[str]:
    """The items of a list written in one string (a run tag, an ${ENV_VAR} value): separated by
    commas or semicolons, spaces and tabs around them dropped. Nothing else splits: an item with a
    space or a line break inside stays one item and is refused as a whole."""
    return [s for s in (part.strip(" \t") for part in _SEPARATORS.split(text)) if s]


def expand(value: str, env: typing.Mapping[str, str]) -> tuple[str, list[str]]:
    """What one configured value stands for: its ${ENV_VAR}s (as text for a log line, "" for none)
    and its items. A value with a variable is resolved, then split (a variable may hold several
    addresses); a value without one is one item."""
    refs = ", ".join(f"${{{name}}}" for name in ENV_REF.findall(value))
    if not refs:
        return "", [value]
    return refs, split(ENV_REF.sub(lambda m: env.get(m.group(1), ""), value))


def shown(text: str, limit: int = 80) -> str:
    """An input as it may appear in a log line or a trail: control and non-ASCII characters
    escaped (a lookalike shows as what it is), cut at `limit` characters."""
    out = text.encode("unicode_escape").decode("ascii")
    return out if len(out) <= limit else out[: limit - 1] + "…"


# --- in routing.yaml (config.schema): a bad address is a config error at its key ---


def _config_address(value: str) -> str:
    """A configured recipient, normalized. A value with an ${ENV_VAR} is checked when it is resolved,
    address by address, before sending (channels._mail.recipients)."""
    if ENV_REF.search(value):
        return value
    try:
        return parse(value)
    except AddressError as exc:
        raise PydanticCustomError("email_address", "not one bare email address: it {why}; write it like "
                                  f"{EXAMPLE}", {"why": str(exc)}) from None


def _config_domain(value: str) -> str:
    try:
        return parse_domain(value)
    except AddressError as exc:
        raise PydanticCustomError("email_domain", "this entry {why}; write a domain like contoso.com (matched "
                                  "exactly: subdomains are not included)", {"why": str(exc)}) from None


EmailAddress = Annotated[str, AfterValidator(_config_address)]
EmailDomain = Annotated[str, AfterValidator(_config_domain)]
