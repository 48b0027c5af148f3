"""What of routing.yaml the cross-checks can still read when parts of it fail the schema.

Each section, each entry of a mapping section (a channel, a role, a time window, a digest) and each
item of a list section (a route, an inhibit rule) is validated on its own. A part with errors has
the keys that hold them dropped (the deepest key each error points into) and is tried again, so a
route with a misspelt key still has its roles checked; a part that still fails (a required key is
wrong) is left out. A list keeps its positions (`None` where an item is unreadable), so problems
name the item as written. The names a section defines are every key written under it, readable or
not: a route naming a role whose definition has a typo is not told the role is undefined.
"""

from __future__ import annotations

import copy
import functools
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter, ValidationError

from .messages import clean_loc, node_at
from .schema import RoutingConfig

NAMED = ("channels", "roles", "time_windows")  # sections whose names other sections refer to


@dataclass
class Readable:
    """The readable parts as a RoutingConfig (built without validation: unreadable entries of a
    mapping are absent, unreadable items of a list are None) and, per section in NAMED, the names
    written under it (None when the section itself is unreadable: checks against it are skipped)."""

    config: RoutingConfig
    names: dict[str, set[str] | None]

    @classmethod
    def of(cls, cfg: RoutingConfig) -> "Readable":
        return cls(cfg, {s: set(getattr(cfg, s)) for s in NAMED})


def salvage(raw: dict) -> Readable:
    """The readable parts of a document (plain dicts and lists) that failed validation."""
    values: dict[str, Any] = {}
    names: dict[str, set[str] | None] = {}
    for key, f in RoutingConfig.model_fields.items():
        tp = f.annotation
        if key not in raw:
            values[key] = {} if f.is_required() else f.get_default(call_default_factory=True)
            names[key] = None if f.is_required() else set(values[key]) if isinstance(values[key], dict) else None
            continue
        value, origin, args = raw[key], typing.get_origin(tp), typing.get_args(tp)
        if origin is dict:
            if isinstance(value, dict):
                names[key] = set(value)
                values[key] = {k: item for k, v in value.items() if (item := _read(args[1], v)) is not None}
            else:
                names[key], values[key] = None, {}
        elif origin is list:
            values[key] = [_read(args[0], v) for v in value] if isinstance(value, list) else []
        else:
            read = _read(tp, value)
            values[key] = read if read is not None else f.get_default(call_default_factory=True)
    return Readable(RoutingConfig.model_construct(**values), {s: names.get(s) for s in NAMED})


@functools.lru_cache(maxsize=None)
def _adapter(tp: Any) -> TypeAdapter:
    return TypeAdapter(tp)


def _read(tp: Any, value: Any, rounds: int = 8) -> Any:
    """`value` validated as `tp`, with the keys that hold errors dropped; None if it cannot be read."""
    value = copy.deepcopy(value)
    for _ in range(rounds):
        try:
            return _adapter(tp).validate_python(value)
        except ValidationError as exc:
            spots = {_deepest_key(value, clean_loc(value, err["loc"])) for err in exc.errors()}
            if None in spots:
                return None
            for parent_path, key in sorted(spots, key=lambda s: len(s[0]), reverse=True):  # deepest first
                parent = node_at(value, parent_path)
                if isinstance(parent, dict):
                    parent.pop(key, None)
    return None


def _deepest_key(node: Any, loc: tuple) -> tuple[tuple, str] | None:
    """(path of the mapping, key) of the deepest key along `loc` that is written in a mapping, so
    dropping it removes the error without moving any list item; None when there is no such key."""
    found, path = None, ()
    for part in loc:
        if isinstance(node, dict) and part in node:
            found = (path, part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            break
        path += (part,)
    return found
