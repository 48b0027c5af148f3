"""What the router would do with events, without writing or sending anything: the events, and for
each the routes tried, roles, channels and what the stages would decide. `alertrouter route` and
the console's "try a payload" box both print this."""

from __future__ import annotations

from ..model import Event
from . import Pipeline
from ..routing.router import Router


def explain(router: Router, pipeline: Pipeline, events: list[Event], now: float) -> list[dict]:
    """One JSON-ready dict per event (the stages consult the pipeline's store, read only)."""
    out = []
    for ev in events:
        d = router.route(ev, explain=True)
        verdicts = pipeline.decide(ev, d.targets, now, apply=False)
        out.append({
            "id": ev.id, "source": ev.source, "kind": ev.kind, "severity": ev.severity.value,
            "title": ev.title, "summary": ev.summary, "time": ev.time.isoformat(), "fingerprint": ev.fingerprint,
            "labels": ev.labels, "routes": d.routes, "roles": d.roles, "channels": d.channels,
            "targets": [{"route": t.route, "role": t.role, "channel": t.channel,
                         **({"instead_of": t.fallback_from} if t.fallback_from else {}),
                         "action": v.action, **({"reason": v.reason} if v.reason else {})}
                        for t, v in zip(d.targets, verdicts)],
            "trail": d.trail,
        })
    return out
