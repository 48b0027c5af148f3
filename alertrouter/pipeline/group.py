"""Grouping (Alertmanager's meanings): events of a route with `group_by` become members of a group
per (route, role, channel, group_by values); the group is notified `group_wait` after its first
member, then at most every `group_interval` when it changed, again every `repeat_interval` while
still firing, and once more when all its alerts resolved.

State lives in the store: one small document per member (kind `group-member-<hash of the group>`,
by fingerprint: firing or resolved, as of which event) and one per group (kind "group": its
target, labels and schedule). Taking in an event writes its member and, only when the schedule
must move, the group; so a storm of any size costs the same per event. A flush reads the group's
members to count them. `due()` and `flush()` run from the dispatcher's loop or the Functions timer,
and the compare-and-set on the group document makes one instance win each flush.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timezone
from typing import Callable

from ..model import Event, Severity
from ..config.types import Target
from .inhibit import FIRST_CREATE

log = logging.getLogger("alertrouter.group")

KIND = "group"
MEMBER_KIND = "group-member-"
SHOWN = 5  # members listed in the notification (with their facts and links)


def group_key(target: Target, labels: dict[str, str]) -> str:
    values = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return f"{target.route}/{target.role}/{target.channel}/{{{values}}}"


def group_labels(event: Event, by: list[str]) -> dict[str, str]:
    return {k: event.match_value(k) or "" for k in by}


def member_kind(key: str) -> str:
    """The state kind holding one group's members (a name any store's keys can hold)."""
    return MEMBER_KIND + hashlib.sha256(key.encode()).hexdigest()[:32]


def add(store, key: str, target: Target, labels: dict, event: Event, wait: float, interval: float,
        now: float) -> float | None:
    """Record the event's member (by fingerprint); schedule the group's next notice. Returns when
    that notice is due if this call scheduled it (else None)."""
    member = {"title": event.title[:160], "severity": event.severity.value, "time": event.time.timestamp(),
              "firing": event.kind != "alert.resolved", "source": event.source, "event_id": event.id}
    changed = _put_member(store, member_kind(key), event, member, now)
    if changed is None:
        return None  # an older event than the one already counted, or the same one again
    while True:
        found = store.state_get(KIND, key)
        if found is None:
            doc = {"route": target.route, "role": target.role, "channel": target.channel,
                   "fallback_from": target.fallback_from, "labels": labels, "created": now,
                   "next_flush": now + wait, "last_flush": None, "sent_state": "", "seq": 0}
            if store.state_put(KIND, key, doc, None, now):
                return doc["next_flush"]
            continue
        doc, version = found
        if not changed or doc["last_flush"] is None:  # unchanged, or still in group_wait: already due
            if doc["next_flush"] is not None:
                return None
            soon = now + wait
        else:  # notify the change after group_interval
            soon = max(now, doc["last_flush"] + interval)
            if doc["next_flush"] is not None and doc["next_flush"] <= soon:
                return None
        if store.state_put(KIND, key, {**doc, "next_flush": soon}, version, now):
            return soon


def _put_member(store, kind: str, event: Event, member: dict, now: float) -> bool | None:
    """Store the event's member document: whether the member is new or its firing changed, None
    when the event changes nothing. A firing alert is usually a new member: its document is created
    before anything is read (inhibit.FIRST_CREATE)."""
    if event.kind == FIRST_CREATE and store.state_put(kind, event.fingerprint, member, None, now):
        return True
    while True:
        found = store.state_get(kind, event.fingerprint)
        if found is None:
            if store.state_put(kind, event.fingerprint, member, None, now):
                return True
            continue
        old, version = found
        if old["time"] > member["time"] or old == member:
            return None
        if store.state_put(kind, event.fingerprint, member, version, now):
            return old["firing"] != member["firing"]


def members_of(store, key: str, doc: dict, now: float) -> dict[str, dict]:
    """The group's members by fingerprint. A group document written before members had documents of
    their own keeps them inline: those are written out here (once), and the inline copy is dropped
    by the flush that follows."""
    kind = member_kind(key)
    members = {fp: m for fp, m, _ in store.state_list(kind)}
    for fp, m in (doc.get("members") or {}).items():
        if fp not in members:
            store.state_put(kind, fp, m, None, now)
            members[fp] = m
    return members


def _state(members: dict) -> str:
    return hashlib.sha256(json.dumps({k: m["firing"] for k, m in members.items()},
                                     sort_keys=True).encode()).hexdigest()


def _delete(store, key: str, members: dict) -> None:
    kind = member_kind(key)
    for fp in members:
        store.state_delete(kind, fp)
    store.state_delete(KIND, key)


def due(store, now: float) -> tuple[list[tuple[str, dict, int]], float | None]:
    """The groups whose notice is due, and when the next of the others is (None: none scheduled)."""
    ready, later = [], None
    for k, d, v in store.state_list(KIND):
        at = d["next_flush"]
        if at is None:
            continue
        if at <= now:
            ready.append((k, d, v))
        elif later is None or at < later:
            later = at
    return ready, later


def flush(store, key: str, doc: dict, version: int, repeat: float, now: float) -> Event | None:
    """Claim this flush (compare-and-set) and return the group's notice, or None when another
    instance flushed it or nothing changed. A fully resolved group is deleted after its notice."""
    members = members_of(store, key, doc, now)
    firing = {k: m for k, m in members.items() if m["firing"]}
    if not firing and doc["last_flush"] is None:  # fired and resolved inside group_wait: nobody hears of it
        if store.state_put(KIND, key, {**doc, "next_flush": None}, version, now):
            _delete(store, key, members)
        return None
    state = _state(members)
    changed = state != doc["sent_state"]
    repeat_due = bool(firing) and doc["last_flush"] is not None and now - doc["last_flush"] >= repeat
    new = {k: v for k, v in doc.items() if k != "members"}
    new["next_flush"] = now + repeat if firing else None
    if not changed and not repeat_due:
        store.state_put(KIND, key, new, version, now)
        return None
    new.update(last_flush=now, sent_state=state, seq=doc["seq"] + 1)
    if not store.state_put(KIND, key, new, version, now):
        return None
    if not firing:
        found = store.state_get(KIND, key)
        if found and found[1] == version + 1:
            _delete(store, key, members)
    return notice(key, doc, members, new["seq"], now, store.get_event)


# What a group notice keeps of each shown member's event: the labels people act on (the single
# notice's facts: where, what was measured, its value) and the member's own links.
MEMBER_LABELS = ("alert_rule", "resource", "resource_group", "monitoring_service", "signal_type", "metric_name",
                 "time_aggregation", "operator", "threshold", "metric_value", "window_size", "monitor_condition")
VALUE_MAX = 300
DIMENSIONS_MAX = 10  # and its first dimensions (`dimension.<name>`): which instance of the rule fired


def notice(key: str, doc: dict, members_by_fp: dict[str, dict], seq: int, now: float,
           event_of: Callable[[str], Event | None] | None = None) -> Event:
    """The group's notice. `event_of` (the store's get_event) gives each shown member's labels and
    links; without it, or for a member whose event is gone, the member doc's title and time only.
    Its id names the group's formation (a group that resolved and forms again counts its notices
    afresh, and they must not be taken for the earlier ones' redeliveries)."""
    members = sorted(members_by_fp.values(), key=lambda m: m["time"])
    firing = [m for m in members if m["firing"]]
    resolved = [m for m in members if not m["firing"]]
    shown = (firing or resolved)[:SHOWN]
    total = len(members)
    worst = min((Severity(m["severity"]) for m in (firing or members)), key=lambda s: s.rank)
    what = ", ".join(f"{k}={v}" for k, v in doc["labels"].items() if v) or doc["route"]
    if firing:
        title = f"{len(firing)} firing" + (f", {len(resolved)} resolved" if resolved else "") + f": {what}"
    else:
        title = f"All {total} resolved: {what}" if total > 1 else f"Resolved: {what}"
    more = total - len(shown)
    lines = [f"- {m['title']}" for m in shown] + ([f"- and {more} more"] if more > 0 else [])
    shown_members = [_member(m, event_of) for m in shown]
    # "Fired at" is when the group's first alert fired (not when the notice went out); an all-resolved
    # notice is as of its last resolution
    at = firing[0]["time"] if firing else members[-1]["time"] if members else now
    return Event(
        id=f"group|{key}|{doc.get('created', 0):.3f}|{seq}", source=members[0]["source"] if members else "azure-monitor",
        kind="alert.fired" if firing else "alert.resolved", severity=worst, title=title[:200],
        summary="\n".join(lines), time=datetime.fromtimestamp(at, timezone.utc), fingerprint=f"group:{key}",
        labels={**{k: v for k, v in doc["labels"].items() if v}, "group_size": str(total),
                "firing": str(len(firing)), "resolved": str(len(resolved)), "group": key},
        links=_member_links(shown_members), members=shown_members,
    )


def _member(m: dict, event_of: Callable[[str], Event | None] | None) -> dict:
    event = None
    if event_of is not None and m.get("event_id"):
        try:
            event = event_of(m["event_id"])
        except Exception as exc:  # the notice goes out without this member's facts rather than not at all
            log.warning("group member event %s not read (%s); notified with its title only", m["event_id"][:200],
                        type(exc).__name__)
    labels = {k: event.labels[k][:VALUE_MAX] for k in MEMBER_LABELS if event and event.labels.get(k)}
    dimensions = [k for k in event.labels if k.startswith("dimension.")][:DIMENSIONS_MAX] if event else []
    labels.update((k, event.labels[k][:VALUE_MAX]) for k in dimensions)
    return {"title": m["title"], "severity": m["severity"], "firing": m["firing"],
            "time": datetime.fromtimestamp(m["time"], timezone.utc).isoformat(),
            "labels": labels, "links": dict(event.links) if event else {}}


def _member_links(members: list[dict]) -> dict[str, str]:
    """Each shown member's links, named after the member (its resource, else its title) so the
    card's buttons and the email's say whose they are."""
    out: dict[str, str] = {}
    for m in members:
        whose = m["labels"].get("resource") or m["title"]
        for name, url in m["links"].items():
            label = f"{name}: {whose}"[:120]
            n = 2
            while label in out:
                label, n = f"{name}: {whose} ({n})"[:120], n + 1
            out[label] = url
    return out
