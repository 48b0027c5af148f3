"""Secrets out of what the console shows: payloads are the senders' text, and may carry keys.

- a value under a key that names a secret (key, token, password, secret, signature, credential,
  authorization, cookie, connection string, SAS, webhook) is replaced whole;
- a URL keeps its scheme, host and path; user info, query string and fragment are replaced;
- `Bearer …` / `Basic …` credentials inside any text are replaced.
"""

from __future__ import annotations

import re
from typing import Any

from ..delivery.preview import MASK  # one mask for previews, pages and payloads

_SECRET_WORDS = {
    "key", "apikey", "token", "password", "passwd", "pwd", "secret", "signature", "sig", "credential",
    "credentials", "authorization", "cookie", "sas", "connectionstring", "webhook", "webhookurl",
    "privatekey", "clientsecret", "accesskey", "accountkey",
}
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s/?#@\"'<>]*@)?([^\s/?#\"'<>]*)([^\s?#\"'<>]*)(\?[^\s#\"'<>]*)?(#[^\s\"'<>]*)?")
_CRED = re.compile(r"\b(Bearer|Basic|SharedAccessSignature)\s+[A-Za-z0-9._~+/=%:-]+", re.IGNORECASE)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")


def secret_key(name: str) -> bool:
    """Does this key name a secret? (`routing_key`, `webhookUrl`, `x-functions-key`, `SAS` …)"""
    words = [w.lower() for w in _WORD_SPLIT.split(str(name)) if w]
    joined = "".join(words)
    return joined in _SECRET_WORDS or any(w in _SECRET_WORDS for w in words)


def mask_text(text: str) -> str:
    def url(m: re.Match) -> str:
        scheme, userinfo, host, path, query, fragment = m.groups()
        return (scheme + (MASK + "@" if userinfo else "") + host + (path or "")
                + ("?" + MASK if query else "") + ("#" + MASK if fragment else ""))

    return _CRED.sub(lambda m: f"{m.group(1)} {MASK}", _URL.sub(url, text))


def mask(obj: Any) -> Any:
    """A copy of a JSON-like value with secrets replaced."""
    if isinstance(obj, dict):
        return {k: (MASK if secret_key(k) and obj[k] not in (None, "", [], {}) and not isinstance(obj[k], (dict, list))
                    else mask(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask(v) for v in obj]
    if isinstance(obj, str):
        return mask_text(obj)
    return obj
