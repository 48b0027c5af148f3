"""Payload text made harmless for where it is shown: links, Teams Markdown, log lines.

Whoever can start an Azure ML run or name an alert rule writes the text we put in front of
people. Three rules, used by the renderer, the channels and the log formatters:

- `link_allowed`: a link is sent only if it is `https://host/…` (or `http://` when the config's
  `links.allow_http` says so, or to a loopback host, which never leaves the machine: the local
  server's acknowledge links). No `javascript:`, `data:`, scheme-relative or credential-carrying
  URLs, and nothing with whitespace, control characters or backslashes (browsers and mail
  clients read those differently).
- `md_escape`: text shown in a Teams Adaptive Card `TextBlock` or `Fact` (Teams renders a
  Markdown subset there: `**bold**`, `_italic_`, lists, `[text](url)`) displays literally: the
  Markdown characters are backslash-escaped (CommonMark escapes), line-start list and heading
  markers too, and bare URLs are defanged (`https[:]//…`, `www[.]…`) because Teams turns them
  into links by itself.
- `escape_controls` / `json_controls`: control characters (C0 and C1, DEL, CR/LF), the bidi
  controls (U+202E right-to-left override and the others) and the Unicode line separators never
  reach a log line raw: text logs show them as `\\x1b`, `\\n`, `\\u202e`; JSON logs as `\\u` escapes.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from urllib.parse import urlsplit

# --- links --------------------------------------------------------------------------------------

MAX_LINK = 8192
_LINK_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def link_allowed(url: object, allow_http: bool = False) -> bool:
    """True when `url` may be sent as a link (see the module's rules)."""
    if not isinstance(url, str) or not url or len(url) > MAX_LINK:
        return False
    return _link_allowed(url, allow_http)


@functools.lru_cache(maxsize=4096)  # the same links come back for every role and channel of an event
def _link_allowed(url: str, allow_http: bool) -> bool:
    if _LINK_UNSAFE.search(url):
        return False
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("https", "http"):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 -- a port that is not a number raises ValueError
    except ValueError:
        return False
    if not host or "@" in parts.netloc:
        return False
    return scheme == "https" or allow_http or _loopback(host)


def safe_links(links: dict, allow_http: bool = False) -> dict[str, str]:
    """The entries of `links` whose URL is allowed, in order."""
    return {str(name): url for name, url in (links or {}).items() if link_allowed(url, allow_http)}


# --- Teams Markdown -----------------------------------------------------------------------------

_MD_CHARS = re.compile(r"([\\`*\[\]<>~])")
# `_` between two letters or digits never starts or ends emphasis (CommonMark's flanking rules), so
# run ids like AutoML_1234_5 stay readable; every other `_` is escaped.
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")
# A list item or heading starts a line with its marker and then a space (CommonMark): "- x",
# "1. x", "# x"; "-5" or "7.727" is text.
_MD_LINE_START = re.compile(r"(?m)^([ \t]*)(?:([-+#])|(\d{1,9})([.)]))(?=[ \t]|$)")
_LINE_START_CHARS = frozenset(" \t-+#0123456789")
_URL_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*):(?=//)|\b(mailto):")
_WWW = re.compile(r"(?i)\b(www)\.")
# Anything md_escape would change; most values (names, ids, numbers) have none of it.
_MD_TRIGGER = re.compile(r"[\\`*_\[\]<>~:]|www\.|^[ \t]*(?:[-+#]|\d{1,9}[.)])(?:[ \t]|$)",
                         re.IGNORECASE | re.MULTILINE)


def md_escape(text: object) -> str:
    """`text` as Teams Markdown that displays literally, with bare URLs made unclickable."""
    s = "" if text is None else str(text)
    if not s or not _MD_TRIGGER.search(s):
        return s
    low = s.lower()
    if "://" in s or "mailto:" in low:
        s = _URL_SCHEME.sub(lambda m: f"{m[1] or m[2]}[:]", s)
    if "www." in low:
        s = _WWW.sub(r"\1[.]", s)
    if _MD_CHARS.search(s):
        s = _MD_CHARS.sub(r"\\\1", s)
    if "_" in s:
        s = _UNDERSCORE.sub(r"\\_", s)
    if "\n" in s or s[0] in _LINE_START_CHARS:
        s = _MD_LINE_START.sub(lambda m: m[1] + ("\\" + m[2] if m[2] else m[3] + "\\" + m[4]), s)
    return s


# --- logs ---------------------------------------------------------------------------------------

_CONTROLS = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_CONTROLS_BUT_NEWLINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                                   r"\u2066-\u2069]")
_JSON_RAW = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _show(m: re.Match) -> str:
    c = m[0]
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape_controls(text: str, keep_newlines: bool = False) -> str:
    """`text` with control, bidi and line-separator characters shown as escapes (tabs are kept;
    with `keep_newlines`, so are LF line breaks: for tracebacks and rendered multi-line text)."""
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub(_show, text) if pattern.search(text) else text


def json_controls(encoded: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`, which escapes only C0 controls) with
    DEL, C1, bidi and line-separator characters as `\\uXXXX` escapes too: the same data, no raw
    control characters in the line."""
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m[0]):04x}", encoded) if _JSON_RAW.search(encoded) else encoded
