"""Inbound adapters: wire payloads → `Event`s, or a `PayloadError` that says what was wrong.

Pure functions: nothing here touches storage or the network.

    parse_body(body, content_type, endpoint)   bytes from HTTP
    parse_payload(obj, endpoint)               a decoded JSON value (files, CLI)
    parse_event(obj)                            one Event Grid / CloudEvents object (the trigger)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterator, Literal

from ..errors import MalformedJson, TooLarge, UnsupportedSchema
from ..model import Event
from . import _json, aml, azure_monitor, envelope, generic, legacy

Endpoint = Literal["eventgrid", "alerts"] | None
# Event Grid delivers events of up to 1 MB each, inside a JSON array (and batches of up to 1 MB): a 1 MB
# event must not be refused for its brackets, since Event Grid does not retry a 413 (it drops the event)
MAX_BODY_BYTES = 1024 * 1024 + 64 * 1024
# An Event Grid array longer than this is checked whole, then made into Events a chunk at a time as
# it is taken in (`Parsed.chunks`), so a 1 MB batch of 33,000 tiny events never holds 33,000 Events
LAZY_OVER = 100


@dataclass
class Parsed:
    events: list[Event] = field(default_factory=list)
    handshake: dict | None = None  # {"validationResponse": code} for Event Grid validation
    ignored: list[str] = field(default_factory=list)  # e.g. SubscriptionDeletion notices
    format: str = ""  # "eventgrid", "cloudevents", "common-alert-schema", "legacy-…"
    pending: list = field(default_factory=list)  # envelopes checked but not yet made into Events (lazy)
    received: datetime | None = None

    @property
    def count(self) -> int:
        """How many events the payload holds, made or pending."""
        return len(self.events) + len(self.pending)

    def chunks(self, size: int) -> Iterator[list[Event]]:
        """Every event, `size` at a time; pending envelopes become Events one chunk at a time and are
        let go once made, so memory holds one chunk's Events, not the batch's."""
        for i in range(0, len(self.events), size):
            yield self.events[i:i + size]
        pending, self.pending = self.pending, []
        for i in range(0, len(pending), size):
            chunk = [event_from_envelope(env, self.received) for env in pending[i:i + size]]
            pending[i:i + size] = [None] * len(chunk)
            yield chunk


def decode(body: bytes, max_bytes: int = MAX_BODY_BYTES) -> Any:
    if len(body) > max_bytes:
        raise TooLarge(f"request body is {len(body)} bytes; the limit is {max_bytes} bytes (ALERTROUTER_MAX_BODY_BYTES)")
    if not body.strip():
        raise MalformedJson("request body is empty; expected a JSON payload")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedJson(f"request body is not UTF-8 (byte {exc.start}); send JSON encoded as UTF-8") from None
    return _json.loads(text, "body")


def parse_body(body: bytes, content_type: str | None = None, endpoint: Endpoint = None,
               max_bytes: int = MAX_BODY_BYTES, received: datetime | None = None, lazy: bool = False) -> Parsed:
    """With `lazy`, a long Event Grid array is checked whole (a bad event still refuses it all) but
    its Events are made as `Parsed.chunks` asks for them."""
    obj = decode(body, max_bytes)
    return parse_payload(obj, endpoint, received=received, lazy=lazy)


def parse_payload(obj: Any, endpoint: Endpoint = None, received: datetime | None = None,
                  lazy: bool = False) -> Parsed:
    received = received or datetime.now(timezone.utc)
    if isinstance(obj, list) or envelope.is_cloudevent(obj) or envelope.is_eventgrid_event(obj):
        if endpoint == "alerts":
            raise UnsupportedSchema(
                "this is an Event Grid / CloudEvents payload; /api/alerts takes Azure Monitor alerts "
                "from Action Groups. Post Event Grid deliveries to /api/eventgrid"
            )
        return _parse_events(obj if isinstance(obj, list) else [obj], received, lazy)
    if azure_monitor.is_common(obj) or legacy.kind_of(obj):
        if endpoint == "eventgrid":
            raise UnsupportedSchema(
                "this is an Azure Monitor alert; /api/eventgrid takes Event Grid deliveries. "
                "Point the Action Group's webhook at /api/alerts"
            )
        if azure_monitor.is_common(obj):
            return Parsed(events=azure_monitor.to_events(obj, received), format="common-alert-schema")
        return Parsed(events=legacy.to_events(obj, received), format=f"legacy-{legacy.kind_of(obj)}")
    if isinstance(obj, dict):
        schema = obj.get("schemaId")
        found = f"schemaId {schema!r}" if schema else "keys " + (", ".join(sorted(obj)[:8]) or "none")
        raise UnsupportedSchema(
            f"unknown payload: {found}. Expected an Event Grid array, a CloudEvent (specversion), "
            "the Azure Monitor common alert schema (schemaId azureMonitorCommonAlertSchema), or a legacy "
            "Azure Monitor alert (AzureMonitorMetricAlert, Microsoft.Insights/activityLogs, Log V1)"
        )
    raise UnsupportedSchema(f"unknown payload: a JSON {type(obj).__name__}; expected an object or an array of events")


def _parse_events(items: list, received: datetime, lazy: bool = False) -> Parsed:
    if not items:
        raise UnsupportedSchema("empty event array; Event Grid always delivers at least one event")
    out = Parsed(received=received)
    lazy = lazy and len(items) > LAZY_OVER
    envs = [envelope.parse(obj, f"event [{i}]") for i, obj in enumerate(items)]
    out.format = envs[0].schema
    for env in envs:
        t = env.type.lower()
        if t == envelope.VALIDATION_EVENT:
            data = env.data if isinstance(env.data, dict) else {}
            code = data.get("validationCode") or data.get("ValidationCode")
            if not code:
                raise UnsupportedSchema("SubscriptionValidationEvent without data.validationCode")
            out.handshake = {"validationResponse": code}
            continue
        if t == envelope.DELETION_EVENT:
            out.ignored.append(f"{env.type} {env.id}")
            continue
        if lazy:  # made once here to check it (and let go), again when its chunk is taken in
            event_from_envelope(env, received)
            out.pending.append(env)
        else:
            out.events.append(event_from_envelope(env, received))
    return out


def event_from_envelope(env: envelope.Envelope, received: datetime | None = None) -> Event:
    if aml.handles(env):
        return aml.to_event(env, received)
    return generic.to_event(env, received)


def parse_event(obj: dict, received: datetime | None = None) -> Event | None:
    """One event from the Event Grid trigger; None for validation/deletion notices."""
    if not _json.depth_ok(None, obj):  # (decoded by the Functions worker, not by decode())
        raise MalformedJson(_json.too_deep("event"))
    env = envelope.parse(_json.without_lone_surrogates(None, obj), "event")
    if env.type.lower() in (envelope.VALIDATION_EVENT, envelope.DELETION_EVENT):
        return None
    return event_from_envelope(env, received)
