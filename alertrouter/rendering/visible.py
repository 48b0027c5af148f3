"""What a notice shows, besides its facts, of the labels and details an event carries: the dimensions
and custom properties that say which instance of an alert fired, and the run tags and properties a
restricted role's `show:` lets it see.

Each is a name → value mapping in the payload's order, built from the view's labels (so a
restricted role, whose labels are cut to a few, gets no dimensions or custom properties) or, for
`show:`, from the event itself: only the names listed, nothing else of the tags or properties.

Custom properties are whatever the rule's author wrote, and some carry keys (an `apiKey`, a callback
URL with its signature): they are masked as the console masks (rendering/masking.py): a property
whose name names a secret is shown as `<redacted>`, and so are credentials, a URL's user info and
its secret-named parameters (`sig=`, `code=`, `token=`).
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ..model import Event
from .masking import MASK, mask_text, secret_key

DIMENSION = "dimension."  # Azure Monitor dimensions: ApiName=GetBlob, Computer=vm-7
CUSTOM = "custom."        # the alert rule's or Action Group's custom properties
TAG = "tag."              # run, model and deployment tags (labels)
PROPERTY = "property."    # run, model and deployment properties (details)

def prefixed(labels: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The labels under `prefix`, named without it, in their order."""
    return {k[len(prefix):]: v for k, v in labels.items() if k.startswith(prefix) and len(k) > len(prefix)}


def without_secrets(values: Mapping[str, str]) -> dict[str, str]:
    """`values` masked as the console masks (rendering/masking.py): a secret-named entry's value whole,
    and in the others credentials, URL user info and secret-named URL parameters."""
    return {k: MASK if secret_key(k) and v else mask_text(v) for k, v in values.items()}


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
