"""Reading routing.yaml's text as YAML: the round-trip document (which keeps every key's line), or
a syntax error said in plain words: the line and column, what is wrong there, and how to fix it."""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from ..errors import ConfigError

_CANNOT_START = re.compile(r"found character '(.+)' that cannot start any token")
_DUPLICATE = re.compile(r'found duplicate key "(.*?)" with value')
_ESCAPE = re.compile(r"found unknown escape character '(.+)'")
_ALIAS = re.compile(r"found undefined alias '(.+)'")
_FOUND = re.compile(r"expected <block end>, but found '(.+)'")


def read_yaml(text: str, name: str) -> dict:
    """The document as a ruamel mapping; ConfigError with one plain-worded problem otherwise."""
    try:
        doc = YAML(typ="rt").load(text)
    except MarkedYAMLError as exc:
        raise ConfigError([_marked(exc, name, text)]) from None
    except ReaderError as exc:
        line, col = _position(text, exc.position)
        raise ConfigError([f"{name}:{line} YAML syntax error at column {col}: a control character "
                           f"(U+{exc.character:04X}) YAML does not allow; delete it or write the value in "
                           "double quotes with an escape"]) from None
    except YAMLError as exc:  # pragma: no cover (ruamel's other errors all carry a mark)
        raise ConfigError([f"{name}:1 YAML syntax error: {exc}"]) from None
    if doc is None:
        raise ConfigError([f"{name}:1 the file is empty; it needs at least `roles:` and `channels:`"])
    if not isinstance(doc, dict):
        raise ConfigError([f"{name}:1 the top level must be a mapping with roles, channels and routes"])
    return doc


def _position(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


def _marked(exc: MarkedYAMLError, name: str, source: str) -> str:
    text, at_opening = _plain(exc, source)
    mark = (exc.context_mark if at_opening else None) or exc.problem_mark or exc.context_mark
    where = f"{name}:{mark.line + 1} YAML syntax error at column {mark.column + 1}" if mark else f"{name}:1 YAML syntax error"
    return f"{where}: {text}"


def _first_key(source: str, key: str, opened: Any, noticed: Any) -> str:
    """Where a duplicated key was first written: the mapping's earlier line that holds it at the
    same column (ruamel marks only where the mapping starts)."""
    lines = source.splitlines()
    for n in range(opened.line, noticed.line):
        line = lines[n] if n < len(lines) else ""
        rest = line[noticed.column:]
        if line[:noticed.column].strip(" -") == "" and rest.startswith(key) and rest[len(key):].lstrip().startswith(":"):
            return f"line {n + 1}"
    return f"the mapping that starts at {_at(opened)}"


def _plain(exc: MarkedYAMLError, source: str) -> tuple[str, bool]:
    """What ruamel found, in words a person fixing the file can act on, and whether it is best shown
    where the unclosed quote or bracket opens (True) rather than where ruamel noticed it."""
    problem, context, opened, noticed = exc.problem or "", exc.context or "", exc.context_mark, exc.problem_mark
    if m := _CANNOT_START.search(problem):
        char = m[1]
        if char == "\\t":
            return "a tab; YAML indents with spaces only: replace the tab with spaces", False
        return (f'a value cannot start with "{char}" (YAML reserves it); put the value in quotes, '
                f'like "{char}…"'), False
    if "quoted scalar" in context and "end of stream" in problem:
        return ("the quoted value that opens here is never closed; add the closing quote (the same "
                "quote character) at the end of the value"), True
    if m := _ESCAPE.search(problem):
        return (f'"\\{m[1]}" is not an escape YAML knows in a double-quoted value; write "\\\\" for a '
                "backslash, or use single quotes (no escapes there)"), False
    if "flow sequence" in context:
        return (f'the list that opens here with "[" is still open at {_at(noticed)}; add the "]" at the '
                "end of the list and separate its items with commas"), True
    if "flow mapping" in context:
        return (f'the mapping that opens here with "{{" is still open at {_at(noticed)}; add the "}}" at '
                "the end and separate its entries with commas"), True
    if m := _DUPLICATE.search(problem):
        return (f'the key "{m[1]}" appears twice in one mapping (first at {_first_key(source, m[1], opened, noticed)}); '
                "merge the two or rename one"), False
    if m := _ALIAS.search(problem):
        return (f'"*{m[1]}" refers to an anchor "&{m[1]}" that is not defined; define it, or quote the '
                'value if "*" is meant as text'), False
    if "mapping values are not allowed here" in problem:
        return ('a ":" that YAML cannot place: if the line above is a key, it needs a ":" after it; '
                'if this value holds ": ", put the whole value in quotes'), False
    if m := _FOUND.search(problem):
        found = m[1]
        if found in ("]", "}"):
            return f'a "{found}" that closes nothing; remove it, or add the matching opening bracket', False
        if found == "-":
            return ('a list item ("- ") where a key was expected; indent the list under its key, or '
                    "line the items up with the other items of the list"), False
        return (f"this line is indented differently from the keys above it (the mapping that starts at "
                f"{_at(opened)}); line up the keys of one mapping at the same column, with spaces"), False
    return (f"{problem or context}; check the indentation (spaces only) and the quotes and brackets "
            "on this line and the one above"), False
