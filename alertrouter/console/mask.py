"""Secrets out of what the console shows: payloads are the senders' text, and may carry keys.

- the configured secrets (every channel's resolved URL, key, token, password, header) are replaced
  where they appear as whole values, never inside another word;
- a value under a key that names a secret (key, token, password, secret, signature, credential,
  authorization, cookie, connection string, SAS, webhook) is replaced whole;
- a URL keeps its scheme, host, path, query and fragment, so studio and portal links still work;
  its user info and the values of parameters that name a secret (`sig=`, `code=`, `access_token=`)
  are replaced;
- `Bearer …` / `Basic …` credentials inside any text are replaced.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ..delivery.preview import MASK, mask_secrets  # one mask for previews, pages and payloads

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


def secret_key(name: str) -> bool:
    """Does this key name a secret? (`routing_key`, `webhookUrl`, `x-functions-key`, `SAS` …)"""
    words = [w.lower() for w in _WORD_SPLIT.split(str(name)) if w]
    joined = "".join(words)
    return joined in _SECRET_WORDS or any(w in _SECRET_WORDS for w in words)


def configured_secrets(app) -> tuple[str, ...]:
    """Every channel's resolved secrets (an email channel's current access token among them)."""
    return tuple(sorted({s for ch in app.channels.values() for s in ch.secret_values() if s}))


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
