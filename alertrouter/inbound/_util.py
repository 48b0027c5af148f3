"""Small pure helpers shared by the inbound adapters."""

from __future__ import annotations

import functools
import json
import math
import re
from datetime import datetime, timezone
from typing import Any, Mapping

from ..errors import WrongType
from ._json import depth_ok, without_lone_surrogates

_ARM = re.compile(
    r"/subscriptions/(?P<sub>[^/]+)"
    r"(?:/resourcegroups/(?P<rg>[^/]+))?"
    r"(?:/providers/(?P<provider>[^/]+/[^/]+)/(?P<name>[^/]+))?",
    re.IGNORECASE,
)


class CIDict:
    """Read-only, case-insensitive view of a mapping (Azure sends camelCase and PascalCase). The
    exact spelling asked for is tried first; the lower-cased index is built only when it misses."""

    __slots__ = ("_d", "_lower")

    def __init__(self, d: Mapping[str, Any] | None):
        self._d = d if isinstance(d, Mapping) else {}
        self._lower: dict[str, str] | None = None

    def _real(self, key: str) -> str | None:
        if key in self._d:
            return key
        if self._lower is None:
            self._lower = {k.lower(): k for k in self._d if isinstance(k, str)}
        return self._lower.get(key.lower())

    def get(self, key: str, default: Any = None) -> Any:
        real = self._real(key)
        return self._d[real] if real is not None else default

    def has(self, key: str) -> bool:
        return self._real(key) is not None


def arm_parts(resource_id: str | None) -> dict[str, str]:
    """Split an ARM id into subscription, resource_group, provider type and name."""
    if not resource_id:
        return {}
    return dict(_arm_parts(resource_id))


@functools.lru_cache(maxsize=4096)  # the same topics and resources come back event after event
def _arm_parts(resource_id: str) -> dict[str, str]:
    m = _ARM.match(resource_id)
    if not m:
        return {}
    out = {"subscription": m["sub"]}
    if m["rg"]:
        out["resource_group"] = m["rg"]
    if m["provider"]:
        out["resource_type"] = m["provider"]
        out["resource_name"] = m["name"]
    # Nested resources: the last segment names the resource itself.
    tail = resource_id.rstrip("/").rsplit("/", 1)[-1]
    if m["provider"] and tail:
        out["resource_name"] = tail
    return out


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 with any fraction digits, or Log V1's 'M/d/yyyy h:mm:ss tt'; UTC when no zone."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        text = str(value).strip()
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            try:
                dt = datetime.fromisoformat(_trim_fraction(text))
            except ValueError:
                try:
                    dt = datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p")
                except ValueError:
                    return None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _trim_fraction(text: str) -> str:
    text = text.replace("Z", "+00:00")
    return re.sub(r"(\.\d{6})\d+", r"\1", text)


def to_str(value: Any) -> str:
    """Label values are strings: JSON for containers, lower-case for booleans."""
    if type(value) is str:  # the common case, first
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def maybe_json(value: Any) -> Any:
    """A string that holds JSON (AML runProperties, activity-log claims) becomes the value; else unchanged
    (so is one nested too deep to be read safely, or holding a number Python cannot convert)."""
    if isinstance(value, str) and value[:1] in ("{", "["):  # (an empty string is no JSON: not tried)
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return value
        return without_lone_surrogates(value, parsed) if depth_ok(value, parsed) else value
    return value


def json_type(value: Any) -> str:
    """What a JSON value is, for messages: "an object", "a number"…"""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {dict: "an object", list: "an array", str: "a string", type(None): "null"}.get(type(value),
                                                                                       type(value).__name__)


def obj_at(value: Any, where: str) -> Mapping:
    """An optional object the adapter reads: absent or empty → {}, an object → itself; any other JSON
    type cannot be read and is refused, naming where it was."""
    if not value:
        return {}
    if isinstance(value, Mapping):
        return value
    raise WrongType(f"{where}: expected an object, got {json_type(value)}")


def list_at(value: Any, where: str) -> list:
    """An optional array the adapter reads: absent or empty → [], an array → itself, else refused."""
    if not value:
        return []
    if isinstance(value, list):
        return value
    raise WrongType(f"{where}: expected an array, got {json_type(value)}")


def fixed3(value: Any) -> str:
    """A number shown with 3 decimals (a drift coefficient); anything else, or a number too large for a
    float, as its text."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:
            return to_str(value)
        if math.isfinite(number):
            return f"{number:.3f}"
    return to_str(value)


def flat_tags(prefix: str, tags: Any) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        return {}
    return {f"{prefix}{k}": to_str(v) for k, v in tags.items() if k}


def clip(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
