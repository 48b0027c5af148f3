"""What a notice shows, besides its facts, of the labels and details an event carries: the dimensions
and custom properties that say which instance of an alert fired, and the run tags and properties a
restricted role's `show:` lets it see.

Each is a name → value mapping in the payload's order, built from the view's labels (so a
restricted role, whose labels are cut to a few, gets no dimensions or custom properties) or, for
`show:`, from the event itself: only the names listed, nothing else of the tags or properties.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from ..model import Event

DIMENSION = "dimension."  # Azure Monitor dimensions: ApiName=GetBlob, Computer=vm-7
CUSTOM = "custom."        # the alert rule's or Action Group's custom properties
TAG = "tag."              # run, model and deployment tags (labels)
PROPERTY = "property."    # run, model and deployment properties (details)


def prefixed(labels: Mapping[str, str], prefix: str) -> dict[str, str]:
    """The labels under `prefix`, named without it, in their order."""
    return {k[len(prefix):]: v for k, v in labels.items() if k.startswith(prefix) and len(k) > len(prefix)}


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
