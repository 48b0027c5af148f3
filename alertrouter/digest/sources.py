"""Source events (what Azure sent) and the events the router makes itself, told apart.

The store keeps both: the router's own notices go through intake and the outbox like any event. A
digest counts what happened in Azure, so its figures take source events only. The router makes:

    group notices      pipeline/group.py notice()     alert.fired / alert.resolved, fingerprint "group:KEY"
    escalations        pipeline/periodic.py due()     a copy of the alert, id "escalated|FINGERPRINT|ROUTE"
    acknowledgements   pipeline/acks.py announcement() alert.acknowledged, id "ack|EVENT|ROUTE"
    budget summaries   pipeline/budget.py due()       event.other, fingerprint "fold:KEY"
    run watch          ml/watch.py                    run.stuck, run.missing and their *_resolved kinds
    channel health     delivery/health.py             source "router" (channel.down / channel.up)

None of these carries a marker of its own, so they are recognised by what only the router writes:
fingerprints and kinds no inbound adapter produces (every adapter's fingerprint starts with its own
prefix: "alert:", "run:", "budget:", …), and for an escalation, whose fingerprint and time are its
alert's, an id that repeats that fingerprint right after "escalated|" (an adapter's id is the
payload's alert or event id, then "Fired"/"Resolved" or its topic: never its own fingerprint).
tests/digest/test_sources.py makes each of them through the real code and checks this list.

Run-watch findings are not fired alerts; the digest reports them as their own line (`watch_counts`).
"""

from __future__ import annotations

from ..model import Event

WATCH_KINDS = ("run.stuck", "run.missing")
WATCH_RESOLVED_KINDS = ("run.stuck_resolved", "run.missing_resolved")
_ROUTER_FINGERPRINTS = ("group:", "fold:", "channel:", "stuck:", "missing:")


def router_made(e: Event) -> str:
    """What the router made this event as ("group notice", "escalation", …), or "" for a source event."""
    if e.source == "router":
        return "router notice"
    if e.kind in WATCH_KINDS or e.kind in WATCH_RESOLVED_KINDS:
        return "run watch"
    if e.kind == "alert.acknowledged" and e.id.startswith("ack|"):
        return "acknowledgement"
    if e.id.startswith(f"escalated|{e.fingerprint}|"):
        return "escalation"
    if e.fingerprint.startswith("group:"):
        return "group notice"
    if e.fingerprint.startswith(_ROUTER_FINGERPRINTS):
        return "router notice"
    return ""


def is_source(e: Event) -> bool:
    """True for an event an inbound adapter made from what Azure sent."""
    return not router_made(e)


def watch_counts(events: list[Event]) -> dict[str, int]:
    """Run-watch findings raised among `events`: {"stuck": n, "missing": n} (one per raise; resolutions
    are not counted: a finding raised and resolved in the period still counts once)."""
    return {k.split(".", 1)[1]: sum(1 for e in events if e.kind == k) for k in WATCH_KINDS}
