"""Form bodies and the small text syntaxes of the console's forms.

Matchers, one per line or comma-separated, Alertmanager's way: `resource=vm-7`, `severity!=verbose`,
`alert_rule=~cpu-.*` (whole-value regex), `experiment!~test-.*`. They become the `match:` specs
routing.yaml and silences use. Label filters on the event list: `experiment=churn, workspace=ws1`. A form with a file in it
(`multipart/form-data`) is read by `parse_multipart`.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

from ..config.schema import parse_duration
from ..pipeline.silences import matcher_spec

_MATCHER = re.compile(r"^\s*([A-Za-z0-9_.:/-]+)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


class FormError(ValueError):
    pass


def parse_form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass
class Posted:
    """A multipart form: its text fields, and its files as (file name, bytes)."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def parse_multipart(body: bytes, content_type: str) -> Posted:
    """A `multipart/form-data` body (a form with a file input); FormError when it is not one."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type.lower():
        raise FormError("the form was not sent as multipart/form-data; reload the page and send it again")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise FormError("the form's body is not multipart/form-data; reload the page and send it again")
    out = Posted()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            out.files[name] = (filename, data)
        else:
            out.fields[name] = data.decode("utf-8", "replace").replace("\r\n", "\n")
    return out


def split_items(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,\n]", text or "") if p.strip()]


def parse_matchers(text: str) -> dict:
    """`key=value` lines → match specs; FormError names the line that is not one."""
    out: dict = {}
    for item in split_items(text):
        m = _MATCHER.match(item)
        if not m:
            raise FormError(f'"{item}" is not a matcher: write label=value, label!=value, label=~regex or '
                            "label!~regex")
        key, op, value = m.groups()
        value = value.strip('"')
        out[key] = matcher_spec(op, value)
    return out


def matchers_text(spec: dict) -> str:
    """The reverse of `parse_matchers`, for showing a silence's or a route's matchers."""
    parts = []
    for key, value in spec.items():
        if isinstance(value, dict) and len(value) == 1:
            (op, v), = value.items()
            sym = {"not": "!=", "regex": "=~", "not_regex": "!~"}.get(op)
            parts.append(f"{key}{sym}{v}" if sym else f"{key} {op} {v}")
        elif isinstance(value, dict):
            parts.append(f"{key} " + ", ".join(f"{op} {v}" for op, v in value.items()))
        elif isinstance(value, list):
            parts.append(f"{key} in [{', '.join(map(str, value))}]")
        else:
            parts.append(f"{key}={value}")
    return ", ".join(parts)


def parse_labels(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in split_items(text):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FormError(f'label filter "{item}": write key=value')
        out.append((key.strip(), value.strip()))
    return tuple(out)


def parse_time(text: str, now: float) -> float | None:
    """A form's time: empty → None; a duration (`2h`, `7d`) → that long ago; else an ISO date or
    date-time (`2026-11-20T10:00`, taken as UTC without an offset)."""
    text = (text or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?[smhdw]", text):
        return now - parse_duration(text)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise FormError(f'time "{text}": write a duration ago (2h, 7d) or a date-time (2026-11-20T10:00, UTC)')
    return (t if t.tzinfo else t.replace(tzinfo=timezone.utc)).timestamp()
