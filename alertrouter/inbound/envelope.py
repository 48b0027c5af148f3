"""Event Grid schema and CloudEvents 1.0 envelopes → one `Envelope` shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import UnsupportedSchema
from ._util import CIDict, parse_time

VALIDATION_EVENT = "microsoft.eventgrid.subscriptionvalidationevent"
DELETION_EVENT = "microsoft.eventgrid.subscriptiondeletionevent"


@dataclass(frozen=True)
class Envelope:
    schema: str  # "eventgrid" | "cloudevents"
    id: str
    type: str
    subject: str
    time: datetime | None
    topic: str  # Event Grid `topic` or CloudEvents `source`
    data: Any
    raw: dict
    where: str = "event"  # how messages name this event: "event [2]" in a batch


def is_cloudevent(obj: Any) -> bool:
    """CloudEvents carry `specversion`; tolerate any casing and `spec_version`."""
    if not isinstance(obj, dict):
        return False
    keys = {k.lower().replace("_", "") for k in obj}
    return "specversion" in keys


def is_eventgrid_event(obj: Any) -> bool:
    return isinstance(obj, dict) and CIDict(obj).has("eventType")


def parse(obj: Any, where: str) -> Envelope:
    """One event object → Envelope, or UnsupportedSchema naming the missing field and where."""
    if not isinstance(obj, dict):
        raise UnsupportedSchema(f"{where}: expected a JSON object for an event, got {_type(obj)}")
    d = CIDict(obj)
    if is_cloudevent(obj):
        missing = [k for k in ("id", "type", "source") if not d.get(k)]
        if missing:
            raise UnsupportedSchema(
                f"{where}: CloudEvents event is missing required attribute(s) {', '.join(missing)}"
            )
        return Envelope(
            schema="cloudevents",
            id=str(d.get("id")),
            type=str(d.get("type")),
            subject=str(d.get("subject") or ""),
            time=parse_time(d.get("time")),
            topic=str(d.get("source")),
            data=d.get("data"),
            raw=obj,
            where=where,
        )
    if d.has("eventType"):
        missing = [k for k in ("id", "eventType") if not d.get(k)]
        if missing:
            raise UnsupportedSchema(
                f"{where}: Event Grid event is missing required field(s) {', '.join(missing)}"
            )
        return Envelope(
            schema="eventgrid",
            id=str(d.get("id")),
            type=str(d.get("eventType")),
            subject=str(d.get("subject") or ""),
            time=parse_time(d.get("eventTime")),
            topic=str(d.get("topic") or ""),
            data=d.get("data"),
            raw=obj,
            where=where,
        )
    keys = ", ".join(sorted(obj)[:8]) or "none"
    raise UnsupportedSchema(
        f"{where}: not an Event Grid event (no 'eventType') nor a CloudEvent (no 'specversion'); "
        f"keys found: {keys}"
    )


def _type(obj: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number",
            bool: "a boolean", type(None): "null"}.get(type(obj), type(obj).__name__)
