"""Any Event Grid / CloudEvents type we do not know → a generic `event.other`, never an error."""

from __future__ import annotations

from datetime import datetime, timezone

from ..model import Event
from ._util import arm_parts, clip
from .envelope import Envelope


def to_event(env: Envelope, received: datetime | None = None) -> Event:
    labels = {"event_type": env.type, "subject": env.subject, "topic": env.topic}
    labels.update({k: v for k, v in arm_parts(env.topic).items() if k in ("subscription", "resource_group")})
    title = f"{env.type} on {env.subject or env.topic or 'unknown subject'}"
    return Event(
        id=f"{env.topic}|{env.id}",
        source="eventgrid",
        kind="event.other",
        severity="verbose",
        title=clip(title, 200),
        summary=clip(f"Event {env.type} (id {env.id}) from {env.topic or 'an unnamed topic'}.", 1000),
        time=env.time or received or datetime.now(timezone.utc),
        fingerprint=f"event:{env.topic}:{env.subject}:{env.type}",
        labels={k: v for k, v in labels.items() if v},
        raw=env.raw,
    )
