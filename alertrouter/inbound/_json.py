"""JSON text → Python value, bounded: every way a body can fail to parse is a `MalformedJson` that
says what and where, never a RecursionError or a ValueError from deep inside the decoder.

    loads(text, what="body")     the value, or MalformedJson
    depth_ok(text, value)        True when the value decoded from text nests at most MAX_DEPTH levels
    path(parts)                  ["data", "essentials", "severity"] → "data.essentials.severity"

Bounds: arrays and objects nest at most MAX_DEPTH levels (the fixtures nest 8 at most; an event
nesting 300 levels failed in the store's serializer, and every later step that walks a value stays
far from Python's recursion limit); integers have at most the interpreter's digit limit (4,300 by
default: above it Python refuses to convert them). An unpaired UTF-16 surrogate in a string escape
(valid JSON, invalid Unicode: the store, the log and the receivers refuse it) becomes U+FFFD.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any, Iterable

from ..errors import MalformedJson

MAX_DEPTH = 64

_CONTAINERS = (dict, list)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$-]*$")


def loads(text: str, what: str = "body") -> Any:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedJson(_malformed(exc)) from None
    except RecursionError:
        raise MalformedJson(too_deep(what)) from None
    except ValueError:  # an integer over sys.get_int_max_str_digits(): find it and say where it is
        raise MalformedJson(_huge_number(text, what)) from None
    if not depth_ok(text, value):
        raise MalformedJson(too_deep(what))
    return without_lone_surrogates(text, value)


def without_lone_surrogates(text: str | None, value: Any) -> Any:
    """`value` decoded from `text` with every unpaired UTF-16 surrogate (legal in a JSON escape, not in
    UTF-8: the store, the log and every receiver would refuse the text) replaced by U+FFFD. Walks the
    value only when the text (if known) has a surrogate escape at all."""
    return _replace_surrogates(value) if text is None or _SURROGATE_ESCAPE.search(text) else value


def _replace_surrogates(value: Any) -> Any:  # (the value nests at most MAX_DEPTH levels)
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_replace_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in value.items()}
    return value


def depth_ok(text: str | None, value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` (decoded from `text`, if known) nests at most `limit` arrays/objects. A text with
    no more brackets than that cannot nest deeper; else the value is walked a level at a time (no
    recursion; about a third of the decoder's own time on an Event Grid batch of tiny events)."""
    if text is not None and text.count("[") + text.count("{") <= limit:
        return True
    level = [value] if type(value) in _CONTAINERS else []
    for _ in range(limit):
        deeper: list = []
        add = deeper.append
        for v in level:
            for child in (v.values() if type(v) is dict else v):
                if type(child) in _CONTAINERS:
                    add(child)
        if not deeper:
            return True
        level = deeper
    return False


def path(parts: Iterable[str | int], root: str = "body") -> str:
    """A JSON path people read: data.essentials.alertTargetIDs[0], ["odd key"], or `root` for the top."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        elif _NAME.match(p) and len(p) <= 60:
            out += f".{p}" if out else p
        else:
            out += f"[{json.dumps(p if len(p) <= 60 else p[:59] + '…', ensure_ascii=False)}]"
    return (out if len(out) <= 300 else out[:150] + "…" + out[-149:]) or root


def _malformed(exc: json.JSONDecodeError) -> str:
    return f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"


def too_deep(what: str) -> str:
    return (f"{what}: nested deeper than {MAX_DEPTH} levels of arrays and objects; "
            "no payload the router reads nests that deep")


class _Huge:
    __slots__ = ("digits",)

    def __init__(self, digits: int):
        self.digits = digits


def _huge_number(text: str, what: str) -> str:
    limit = sys.get_int_max_str_digits()

    def integer(s: str) -> Any:
        digits = len(s.lstrip("-"))
        return _Huge(digits) if limit and digits > limit else int(s)

    try:
        found = _find(json.loads(text, parse_int=integer))
    except json.JSONDecodeError as exc:  # broken after the number: that is the first thing to fix
        return _malformed(exc)
    except RecursionError:
        return too_deep(what)
    if found is None:  # not an integer after all: report what the decoder said
        return f"{what}: not JSON the router can read (a number it cannot convert)"
    where, huge = found
    return (f"{path(where, what)}: got a {huge.digits}-digit number; integers of more than {limit} digits "
            "are not accepted (send a value this long as a string)")


def _find(value: Any) -> tuple[list, _Huge] | None:
    """The path of the first _Huge in `value` (iteratively: no recursion on a deep value)."""
    stack: list[tuple[list, Any]] = [([], value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, _Huge):
            return where, v
        if isinstance(v, dict):
            stack.extend((where + [k], c) for k, c in reversed(list(v.items())))
        elif isinstance(v, list):
            stack.extend((where + [i], c) for i, c in reversed(list(enumerate(v))))
    return None
