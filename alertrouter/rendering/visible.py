"""What a notice shows, besides its facts, of the labels and details an event carries: the dimensions
and custom properties that say which instance of an alert fired, and the run tags and properties a
restricted role's `show:` lets it see.

Each is a name → value mapping in the payload's order, built from the view's labels (so a
restricted role, whose labels are cut to a few, gets no dimensions or custom properties) or, for
`show:`, from the event itself: only the names listed, nothing else of the tags or properties.

Custom properties are whatever the rule's author wrote, and some carry keys (an `apiKey`, a callback
URL with its signature): a property whose name names a secret is shown as `<redacted>`, and so are
`Bearer`/`Basic`/`SharedAccessSignature` credentials and a URL's user info and query string.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from ..model import Event

DIMENSION = "dimension."  # Azure Monitor dimensions: ApiName=GetBlob, Computer=vm-7
CUSTOM = "custom."        # the alert rule's or Action Group's custom properties
TAG = "tag."              # run, model and deployment tags (labels)
PROPERTY = "property."    # run, model and deployment properties (details)
MASK = "<redacted>"

_SECRET_WORDS = frozenset({
    "key", "apikey", "token", "password", "passwd", "pwd", "secret", "signature", "sig", "credential",
    "credentials", "authorization", "cookie", "sas", "connectionstring", "webhook", "webhookurl", "privatekey",
    "clientsecret", "accesskey", "accountkey",
})
_WORDS = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")
_CREDENTIAL = re.compile(r"\b(Bearer|Basic|SharedAccessSignature)\s+[^\s,;]+", re.IGNORECASE)
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://)([^\s/?#@\"'<>]*@)?([^\s?#\"'<>]*)(\?[^\s#\"'<>]*)?")


def prefixed(labels: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The labels under `prefix`, named without it, in their order."""
    return {k[len(prefix):]: v for k, v in labels.items() if k.startswith(prefix) and len(k) > len(prefix)}


def secret_name(name: str) -> bool:
    """Does a property's name say it holds a secret? (`apiKey`, `x-functions-key`, `callbackSig`, `SAS` …)"""
    words = [w.lower() for w in _WORDS.split(name) if w]
    return "".join(words) in _SECRET_WORDS or any(w in _SECRET_WORDS for w in words)


def without_secrets(values: Mapping[str, str]) -> dict[str, str]:
    """`values` with the value of a secret-named entry, credentials and URL user info and queries masked."""
    def url(m: re.Match) -> str:
        scheme, userinfo, rest, query = m.groups()
        return scheme + (MASK + "@" if userinfo else "") + rest + ("?" + MASK if query else "")

    return {k: MASK if secret_name(k) and v else _URL.sub(url, _CREDENTIAL.sub(lambda m: f"{m[1]} {MASK}", v))
            for k, v in values.items()}


def shown(event: Event, names: Iterable[str]) -> dict[str, str]:
    """The tags and properties `names` lists, in that order: a tag's value, else the property's; a
    name the event carries neither of is left out."""
    out: dict[str, str] = {}
    for name in names:
        if name in out:
            continue
        value = event.labels.get(TAG + name)
        if value is None:
            value = event.details.get(PROPERTY + name)
        if value is not None:
            out[name] = value
    return out
