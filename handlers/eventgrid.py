"""Event Grid trigger for Azure ML events (the extension answers the validation handshake)."""

from __future__ import annotations

import logging

import azure.functions as func

from alertrouter.errors import PayloadError
from alertrouter.inbound import parse_event
from alertrouter.http.api import EVENTGRID_TRIGGER

from . import _runtime

bp = func.Blueprint()
log = logging.getLogger("alertrouter.eventgrid")


def as_dict(event: func.EventGridEvent | func.CloudEvent) -> dict:
    """The trigger's event object back into the wire schema the core parses.

    The worker hands over a CloudEvent when the subscription delivers CloudEvents 1.0, an
    EventGridEvent otherwise.
    """
    if isinstance(event, func.CloudEvent):
        return {
            "specversion": event.specversion,
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "subject": event.subject,
            "time": event.time.isoformat() if event.time else None,
            "data": event.get_json(),
        }
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "dataVersion": event.data_version,
        "data": event.get_json(),
    }


@bp.function_name(EVENTGRID_TRIGGER)
@bp.event_grid_trigger(arg_name="event")
def aml_events(event: func.EventGridEvent) -> None:
    api = _runtime.api()
    try:
        parsed = parse_event(as_dict(event))
    except PayloadError as exc:  # raised, it would come back on Event Grid's retries for hours and fail alike
        api.payload_rejected("trigger", exc)
        log.warning("dropped Event Grid event %s: %s", event.id, exc)
        return
    if parsed is not None:
        api.app.ingest([parsed])
