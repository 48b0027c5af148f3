"""Label matchers for routes: equality, lists, anchored regex, numeric and severity comparison.

In routing.yaml a matcher is written under `match:` as `label: SPEC`:

    kind: run.failed                 equal
    severity: [critical, error]      any of
    experiment: {regex: "churn-.*"}  whole value matches (anchored, like Alertmanager)
    drift_coefficient: {gt: 0.3}     numeric: gt, ge, lt, le
    severity: {at_least: error}      severity order: critical > error > warning > informational > verbose
    workspace: {not: sandbox}        also: not_in, not_regex, exists: true|false

Several operators in one mapping must all hold. A missing label never equals a value, and always
satisfies `not`, `not_in` and `not_regex`.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any

from ..model import KINDS, Severity

OPS = ("equals", "not", "in", "not_in", "regex", "not_regex", "gt", "ge", "lt", "le", "exists", "at_least", "at_most")
_SEVERITIES = [s.value for s in Severity]
_SOURCES = ("aml", "azure-monitor", "eventgrid", "router")


@dataclass(frozen=True)
class Matcher:
    key: str
    op: str
    value: Any  # str, tuple[str], float, bool, re.Pattern or int (severity rank)

    def test(self, actual: str | None) -> bool:
        op, v = self.op, self.value
        if op == "exists":
            return (actual is not None) == v
        if op in ("not", "not_in", "not_regex"):
            if actual is None:
                return True
            if op == "not":
                return actual != v
            if op == "not_in":
                return actual not in v
            return v.fullmatch(actual) is None
        if actual is None:
            return False
        if op == "equals":
            return actual == v
        if op == "in":
            return actual in v
        if op == "regex":
            return v.fullmatch(actual) is not None
        if op in ("at_least", "at_most"):
            try:
                rank = Severity(actual).rank
            except ValueError:
                return False
            return rank <= v if op == "at_least" else rank >= v
        try:
            num = float(actual)
        except ValueError:
            return False
        if math.isnan(num):
            return False
        return {"gt": num > v, "ge": num >= v, "lt": num < v, "le": num <= v}[op]

    def describe(self) -> str:
        v = self.value
        if isinstance(v, re.Pattern):
            shown = f'"{v.pattern}"'
        elif isinstance(v, tuple):
            shown = "[" + ", ".join(v) + "]"
        elif self.op in ("at_least", "at_most"):
            shown = _SEVERITIES[v]
        elif isinstance(v, str):
            shown = f'"{v}"'
        else:
            shown = str(v).lower() if isinstance(v, bool) else f"{v:g}"
        return f"{self.key} {self.op} {shown}"


def compile_match(spec: dict[str, Any]) -> tuple[list[Matcher], list[tuple[str, str]]]:
    """routing.yaml `match:` mapping → matchers, plus (label, message) for each problem."""
    matchers: list[Matcher] = []
    errors: list[tuple[str, str]] = []
    for key, value in (spec or {}).items():
        key = str(key)
        try:
            matchers.extend(_compile_one(key, value))
        except ValueError as exc:
            errors.append((key, str(exc)))
    return matchers, errors


def _scalar(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        text = str(value)
        _check_vocab(key, text)
        return text
    raise ValueError(f"expected a string or number, got a {type(value).__name__}")


def _check_vocab(key: str, text: str) -> None:
    if key == "severity":
        _check_severity(text)
    vocab = {"source": _SOURCES, "kind": KINDS}.get(key)
    if vocab and text not in vocab:
        raise ValueError(f'unknown {key} "{text}" (expected one of: {", ".join(vocab)})')


_SEV_NUMBER = re.compile(r"^\s*sev\s*(\d+)\s*$", re.IGNORECASE)


def _check_severity(text: Any) -> None:
    """A severity as the router names it; a typo, another case or Azure's SevN gets what to write."""
    if text in _SEVERITIES:
        return
    expected = f'(expected one of: {", ".join(_SEVERITIES)})'
    word = str(text).strip().lower()
    number = _SEV_NUMBER.match(word)
    if number and int(number[1]) < len(_SEVERITIES):
        raise ValueError(f'unknown severity "{text}"; did you mean "{_SEVERITIES[int(number[1])]}"? '
                         f"(Azure's Sev{int(number[1])}; expected one of: {', '.join(_SEVERITIES)})")
    if number:
        raise ValueError(f'unknown severity "{text}"; Azure\'s severities run from Sev0 to Sev4, written here as '
                         + ", ".join(f"{s} (Sev{i})" for i, s in enumerate(_SEVERITIES)))
    close = [s for s in _SEVERITIES if len(word) >= 3 and s.startswith(word)] \
        or difflib.get_close_matches(word, _SEVERITIES, n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    raise ValueError(f'unknown severity "{text}"{hint} {expected}')


def _compile_one(key: str, value: Any) -> list[Matcher]:
    if isinstance(value, list):
        if not value:
            raise ValueError("empty list matches nothing; list at least one value or remove the matcher")
        return [Matcher(key, "in", tuple(_scalar(key, v) for v in value))]
    if not isinstance(value, dict):
        if value is None:
            raise ValueError("no value; write a value, a list, or a mapping like {regex: ...}")
        return [Matcher(key, "equals", _scalar(key, value))]
    if not value:
        raise ValueError(f"empty mapping; use one of the operators: {', '.join(OPS)}")
    out = []
    for op, arg in value.items():
        op = str(op)
        if op not in OPS:
            close = difflib.get_close_matches(op, OPS, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ""
            raise ValueError(f'unknown operator "{op}"{hint} (operators: {", ".join(OPS)})')
        if op in ("equals", "not"):
            out.append(Matcher(key, op, _scalar(key, arg)))
        elif op in ("in", "not_in"):
            if not isinstance(arg, list) or not arg:
                raise ValueError(f"{op} takes a non-empty list")
            out.append(Matcher(key, op, tuple(_scalar(key, v) for v in arg)))
        elif op in ("regex", "not_regex"):
            if not isinstance(arg, str):
                raise ValueError(f"{op} takes a string")
            try:
                out.append(Matcher(key, op, re.compile(arg)))
            except re.error as exc:
                raise ValueError(f'invalid regex "{arg}": {exc.msg} at position {exc.pos}') from None
        elif op in ("gt", "ge", "lt", "le"):
            if isinstance(arg, bool) or not isinstance(arg, (int, float)):
                raise ValueError(f"{op} takes a number, got {arg!r}")
            out.append(Matcher(key, op, float(arg)))
        elif op == "exists":
            if not isinstance(arg, bool):
                raise ValueError("exists takes true or false")
            out.append(Matcher(key, op, arg))
        else:  # at_least / at_most
            if key != "severity":
                raise ValueError(f"{op} compares severities; use it on the severity label, or gt/ge/lt/le for numbers")
            _check_severity(arg)
            out.append(Matcher(key, op, _SEVERITIES.index(arg)))
    return out
