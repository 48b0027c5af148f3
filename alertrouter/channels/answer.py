"""What a receiver answered, as it may be kept with a failed attempt: the first EXCERPT_BYTES of
the body, masked as the console masks (rendering/masking.py) and with control characters escaped,
so `HTTP 400: {"error": "unknown field"}` says why a notification died.

Receivers echo what they were sent (a webhook URL with its `sig=`, a routing key, a header): the
channel's secrets, the URL posted to and its longer query values are masked as whole values (as
written, percent-encoded, JSON-escaped and HTML-escaped), on up to KEPT_BYTES of the body before it
is cut, so a secret across the cut cannot leave a prefix behind.
"""

from __future__ import annotations

import codecs
from typing import Iterable
from urllib.parse import parse_qsl, urlsplit

from ..rendering.masking import mask_text
from ..rendering.safety import escape_controls

EXCERPT_BYTES = 500
QUERY_SECRET_CHARS = 8  # a query value this long may be a key (`sig=`); shorter ones (`api-version=1`) are not


def answer_secrets(url: str, secrets: Iterable[str]) -> tuple[str, ...]:
    """What to mask in an answer to a POST to `url`: the URL, its longer query values and the
    channel's secrets (its configured headers among them)."""
    values = {url, *secrets}
    if "?" in url:
        values.update(v for _, v in parse_qsl(urlsplit(url).query) if len(v) >= QUERY_SECRET_CHARS)
    return tuple(sorted(v for v in values if v))


def excerpt(body: bytes, secrets: Iterable[str], limit: int = EXCERPT_BYTES) -> str:
    """The body's first `limit` bytes as one line of text, secrets masked ("" for an empty body)."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(body, final=False)  # a cut character is dropped
    masked = mask_text(text, secrets).encode("utf-8")
    cut = masked[:limit].decode("utf-8", "ignore")
    more = len(masked) > limit
    return (escape_controls(cut.strip()) + (" …" if more else "")).strip()


def with_answer(detail: str, body: bytes, secrets: Iterable[str]) -> str:
    """`HTTP 400` → `HTTP 400: <the answer's first bytes>` (unchanged when the answer had no body)."""
    shown = excerpt(body, secrets)
    return f"{detail}: {shown}" if shown else detail
