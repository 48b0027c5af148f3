"""What a receiver answered, as it may be kept with a failed attempt: the first EXCERPT_BYTES of
the body, with the channel's secrets and any URL's query string masked and control characters
escaped, so `HTTP 400: {"error": "unknown field"}` says why a notification died.

Receivers echo what they were sent (a webhook URL with its `sig=`, a routing key, a header): every
secret value is masked as written, percent-encoded, JSON-escaped and HTML-escaped, on up to
KEPT_BYTES of the body before it is cut, so a secret across the cut cannot leave a prefix behind.
"""

from __future__ import annotations

import codecs
import html
import json
import re
from typing import Iterable
from urllib.parse import parse_qsl, quote, urlsplit

from ..rendering.safety import escape_controls

MASK = "<redacted>"
EXCERPT_BYTES = 500
_URL_SECRETS = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s/?#@\"'<>]*@)?([^\s?#\"'<>]*)(\?[^\s#\"'<>]*)?")
_CRED = re.compile(r"\b(Bearer|Basic|SharedAccessSignature)\s+[A-Za-z0-9._~+/=%:-]+", re.IGNORECASE)


def secret_forms(url: str, secrets: Iterable[str]) -> list[str]:
    """The texts to mask for a POST to `url`: the URL, its query values and the channel's secrets
    (its configured headers among them), each as written and as a receiver might echo it; longest first."""
    values = {url, *secrets}
    for value in list(values):
        if "?" in value and "://" in value:
            values.update(v for _, v in parse_qsl(urlsplit(value).query, keep_blank_values=False))
    forms = set()
    for value in (v.strip() for v in values if v):
        if value:
            forms.update({value, quote(value, safe=""), quote(value), json.dumps(value)[1:-1],
                          value.replace("/", "\\/"), html.escape(value)})
    return sorted(forms, key=len, reverse=True)


def mask(text: str, forms: list[str]) -> str:
    for form in forms:
        text = text.replace(form, MASK)

    def url(m: re.Match) -> str:
        scheme, userinfo, rest, query = m.groups()
        return scheme + (MASK + "@" if userinfo else "") + rest + ("?" + MASK if query else "")

    return _CRED.sub(lambda m: f"{m.group(1)} {MASK}", _URL_SECRETS.sub(url, text))


def excerpt(body: bytes, forms: list[str], limit: int = EXCERPT_BYTES) -> str:
    """The body's first `limit` bytes as one line of text, secrets masked ("" for an empty body)."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(body, final=False)  # a cut character is dropped
    masked = mask(text, forms).encode("utf-8")
    cut = masked[:limit].decode("utf-8", "ignore")
    more = len(masked) > limit
    return (escape_controls(cut.strip()) + (" …" if more else "")).strip()


def with_answer(detail: str, body: bytes, forms: list[str]) -> str:
    """`HTTP 400` → `HTTP 400: <the answer's first bytes>` (unchanged when the answer had no body)."""
    shown = excerpt(body, forms)
    return f"{detail}: {shown}" if shown else detail
