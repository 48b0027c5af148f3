"""Secrets out of what people read: one mask for previews, the console's pages and payloads, and a
receiver's answer kept with a failed attempt.

- the configured secrets (every channel's resolved URL, key, token, password, header) are replaced
  where they appear as whole values, never inside another word (a placeholder secret `s` masks a
  lone "s", not the letter in "runs"), as written and as a page, a link or JSON would carry them;
- a value under a key that names a secret (key, token, password, secret, signature, credential,
  authorization, cookie, connection string, SAS, webhook) is replaced whole;
- a URL keeps its scheme, host, path, query and fragment, so studio and portal links still work;
  its user info and the values of parameters that name a secret (`sig=`, `code=`, `access_token=`)
  are replaced;
- `Bearer …` / `Basic …` credentials inside any text are replaced.
"""

from __future__ import annotations

import functools
import html
import json
import re
from typing import Any, Iterable
from urllib.parse import quote

MASK = "<redacted>"

_SECRET_WORDS = {
    "key", "apikey", "token", "password", "passwd", "pwd", "secret", "signature", "sig", "credential",
    "credentials", "authorization", "cookie", "sas", "connectionstring", "webhook", "webhookurl",
    "privatekey", "clientsecret", "accesskey", "accountkey",
}
_SECRET_PARAMS = {"code"}  # a URL parameter that is a key (Azure Functions' ?code=, OAuth's code)
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s/?#@\"'<>]*@)?([^\s\"'<>]*)")
_PARAM = re.compile(r"([?&#;])([A-Za-z0-9_.~%+-]+)=([^&#;\s]*)")
_CRED = re.compile(r"\b(Bearer|Basic|SharedAccessSignature)\s+[A-Za-z0-9._~+/=%:-]+", re.IGNORECASE)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_WORD_BEFORE, _WORD_AFTER = r"(?<![^\W_])", r"(?![^\W_])"  # not after / before a letter or digit


def secret_key(name: str) -> bool:
    """Does this key name a secret? (`routing_key`, `webhookUrl`, `x-functions-key`, `SAS` …)"""
    words = [w.lower() for w in _WORD_SPLIT.split(str(name)) if w]
    joined = "".join(words)
    return joined in _SECRET_WORDS or any(w in _SECRET_WORDS for w in words)


@functools.lru_cache(maxsize=64)
def secret_pattern(secrets: tuple[str, ...]) -> re.Pattern | None:
    """One pattern for the secrets' whole values: each as written, HTML-escaped (an email part),
    percent-encoded (a link) and JSON-escaped (a receiver's echo), and only where it is not part of a
    longer word: a secret whose first (last) character is a letter or digit is not matched after
    (before) one."""
    forms = set()
    for value in (s.strip() for s in secrets if s):
        if value:
            forms.update({value, html.escape(value), quote(value, safe=""), json.dumps(value)[1:-1],
                          value.replace("/", "\\/")})
    alternatives = [(_WORD_BEFORE if f[0].isalnum() else "") + re.escape(f) + (_WORD_AFTER if f[-1].isalnum() else "")
                    for f in sorted(forms, key=len, reverse=True)]
    return re.compile("|".join(alternatives)) if alternatives else None


def mask_secrets(obj: Any, secrets: Iterable[str]) -> Any:
    """Every whole occurrence of the configured secrets replaced by MASK, in strings, dicts and lists."""
    pattern = secret_pattern(tuple(secrets))
    return _masked(obj, pattern) if pattern is not None else obj


def _masked(obj: Any, pattern: re.Pattern) -> Any:
    if isinstance(obj, str):
        return pattern.sub(MASK, obj)
    if isinstance(obj, dict):
        return {k: _masked(v, pattern) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_masked(v, pattern) for v in obj]
    return obj


def _url(m: re.Match) -> str:
    scheme, userinfo, rest = m.groups()

    def param(p: re.Match) -> str:
        lead, name, value = p.groups()
        hidden = value and (secret_key(name) or name.lower() in _SECRET_PARAMS)
        return f"{lead}{name}={MASK if hidden else value}"

    return scheme + (MASK + "@" if userinfo else "") + _PARAM.sub(param, rest)


def mask_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the configured `secrets` and the credentials it carries itself replaced."""
    return _CRED.sub(lambda m: f"{m.group(1)} {MASK}", _URL.sub(_url, mask_secrets(text, secrets)))


def mask(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value with secrets replaced."""
    secrets = tuple(secrets)
    if isinstance(obj, dict):
        return {k: (MASK if secret_key(k) and obj[k] not in (None, "", [], {}) and not isinstance(obj[k], (dict, list))
                    else mask(v, secrets)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [mask(v, secrets) for v in obj]
    if isinstance(obj, str):
        return mask_text(obj, secrets)
    return obj


def mask_as_html_text(html_text: str) -> str:
    """In an HTML part, the mask written as text: "<redacted>" would be read as an unknown tag and vanish."""
    return html_text.replace(MASK, html.escape(MASK))
