"""Where a problem is in routing.yaml and how it is said: the YAML line of a path, the path as
written (`routes[2].match.severity`), pydantic's errors as friendly messages, and "did you mean"."""

from __future__ import annotations

import difflib
import re
import typing
from typing import Any

from pydantic import BaseModel

from .schema import CHANNEL_TYPES, RoutingConfig


def plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    return node


class Locator:
    """Line (1-based) of the deepest node along a path in a ruamel round-trip document."""

    def __init__(self, doc: Any):
        self.doc = doc

    def line(self, loc: tuple) -> int:
        node, line = self.doc, 1
        for part in loc:
            lc = getattr(node, "lc", None)
            if isinstance(node, dict) and part in node:
                if lc is not None:
                    line = lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                if lc is not None:
                    line = lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        return line


def clean_loc(doc: Any, loc: tuple) -> tuple:
    """Drop pydantic's union-tag parts (e.g. 'webhook' in channels.x.webhook.url)."""
    out, node = [], doc
    for part in loc:
        if isinstance(node, dict) and part not in node and node.get("type") == part:
            continue
        out.append(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(out)


def path_of(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def node_at(doc: Any, loc: tuple) -> Any:
    """The value at `loc` (keys and indexes) in a YAML document, or None where it has none."""
    for part in loc:
        try:
            doc = doc[part]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def message(err: dict, loc: tuple, doc: Any) -> str:
    t, inp, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if t == "extra_forbidden":
        parent = node_at(doc, loc[:-1])
        tag = parent.get("type") if isinstance(parent, dict) else None
        allowed = _allowed_keys(loc[:-1], tag)
        key = str(loc[-1])
        hint = suggest(key, allowed)
        return f'unknown key "{key}"{hint}' + (f"; allowed: {', '.join(sorted(allowed))}" if allowed else "")
    if t == "list_type":
        return f"expected a list like [a, b], got {_show(inp)}"
    if t == "missing":
        return f'missing required key "{loc[-1]}"'
    if t == "union_tag_invalid":
        return f'unknown channel type "{ctx.get("tag")}" (expected one of: {", ".join(CHANNEL_TYPES)})'
    if t == "union_tag_not_found":
        return f'missing key "type" (one of: {", ".join(CHANNEL_TYPES)})'
    if t == "literal_error":
        return f"invalid value {_show(inp)}: expected {ctx.get('expected')}"
    if t == "too_short":
        return "must not be empty; list at least one"
    msg = err["msg"]
    hint = ""
    if t in ("model_type", "dict_type", "model_attributes_type") and isinstance(inp, str) and _GLUED.search(inp):
        hint = f'; YAML reads {_show(inp)} as one text: write a space after the ":"'
    return f"{msg[0].lower() + msg[1:]}, got {_show(inp)}{hint}"


_GLUED = re.compile(r"^[\w-]+:\S")  # `channels:[se]`: a key and its value without the space YAML needs


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def _allowed_keys(loc: tuple, tag: Any = None) -> set[str]:
    """Keys a model at `loc` accepts, walking RoutingConfig's annotations."""
    tp: Any = RoutingConfig
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            f = _field_by_key(tp, str(part))
            if f is None:
                return set()
            tp = f.annotation
            continue
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin in (dict, list) and args:
            tp = args[-1]
            continue
        if origin is typing.Union:
            named = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)
                     and typing.get_args(a.model_fields.get("type").annotation if "type" in a.model_fields else None)
                     == (part,)]
            if named:
                tp = named[0]
                continue
        return set()
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {f.alias or n for n, f in tp.model_fields.items()}
    if typing.get_origin(tp) is typing.Union:
        for a in typing.get_args(tp):
            if isinstance(a, type) and issubclass(a, BaseModel) and "type" in a.model_fields \
                    and typing.get_args(a.model_fields["type"].annotation) == (tag,):
                return {f.alias or n for n, f in a.model_fields.items()}
        return set().union(*({f.alias or n for n, f in a.model_fields.items()} for a in typing.get_args(tp)
                              if isinstance(a, type) and issubclass(a, BaseModel)))
    return set()


def _unwrap(tp: Any) -> Any:
    if typing.get_origin(tp) is typing.Annotated:
        return typing.get_args(tp)[0]
    return tp


def _field_by_key(model: type[BaseModel], key: str):
    for n, f in model.model_fields.items():
        if key in (n, f.alias):
            return f
    return None
