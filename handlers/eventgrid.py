"""Event Grid trigger for Azure ML events (the extension answers the validation handshake)."""

from __future__ import annotations

import azure.functions as func

from alertrouter.inbound import parse_event
from alertrouter.http_api import EVENTGRID_TRIGGER

from . import _runtime

bp = func.Blueprint()


def as_dict(event: func.EventGridEvent) -> dict:
    """The trigger's EventGridEvent back into the Event Grid schema the core parses."""
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
    parsed = parse_event(as_dict(event))
    if parsed is not None:
        _runtime.api().app.ingest([parsed])
