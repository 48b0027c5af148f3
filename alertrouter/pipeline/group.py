"""Grouping (Alertmanager's meanings): events of a route with `group_by` become members of a group
per (route, role, channel, group_by values); the group is notified `group_wait` after its first
member, then at most every `group_interval` when it changed, again every `repeat_interval` while
still firing, and once more when all its alerts resolved.

Group state lives in the store (kind "group"); `due()` and `flush()` run from the dispatcher's
loop or the Functions timer, and the compare-and-set on the group document makes one instance
win each flush.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from ..model import Event, Severity
from ..routing.router import Target

KIND = "group"
MAX_MEMBERS = 500  # members kept in full; beyond, only counted
SHOWN = 5  # members listed in the notification's summary


def group_key(target: Target, labels: dict[str, str]) -> str:
    values = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
    return f"{target.route}/{target.role}/{target.channel}/{{{values}}}"


def group_labels(event: Event, by: list[str]) -> dict[str, str]:
    return {k: event.match_value(k) or "" for k in by}


def add(store, key: str, target: Target, labels: dict, event: Event, wait: float, interval: float,
        now: float) -> None:
    """Add or update the event's member (by fingerprint); schedule the group's next notice."""
    member = {"title": event.title[:160], "severity": event.severity.value, "time": event.time.timestamp(),
              "firing": event.kind != "alert.resolved", "source": event.source, "event_id": event.id}
    while True:
        found = store.state_get(KIND, key)
        if found is None:
            doc = {"route": target.route, "role": target.role, "channel": target.channel,
                   "fallback_from": target.fallback_from, "labels": labels, "members": {}, "extra": 0,
                   "created": now, "next_flush": now + wait, "last_flush": None, "sent_state": "", "seq": 0}
            version = None
        else:
            doc, version = found
        old = doc["members"].get(event.fingerprint)
        if old is not None and old["time"] > member["time"]:
            return  # an older event than the one already counted
        changed = old is None or old["firing"] != member["firing"]
        if old is None and len(doc["members"]) >= MAX_MEMBERS:
            doc["extra"] += 1
        else:
            doc["members"][event.fingerprint] = member
        if changed and doc["last_flush"] is not None:  # notify the change after group_interval
            soon = max(now, doc["last_flush"] + interval)
            doc["next_flush"] = soon if doc["next_flush"] is None else min(doc["next_flush"], soon)
        if store.state_put(KIND, key, doc, version, now):
            return


def _state(doc: dict) -> str:
    return hashlib.sha256(json.dumps({k: m["firing"] for k, m in doc["members"].items()},
                                     sort_keys=True).encode()).hexdigest()


def due(store, now: float) -> list[tuple[str, dict, int]]:
    return [(k, d, v) for k, d, v in store.state_list(KIND) if d["next_flush"] is not None and d["next_flush"] <= now]


def flush(store, key: str, doc: dict, version: int, repeat: float, now: float) -> Event | None:
    """Claim this flush (compare-and-set) and return the group's notice, or None when another
    instance flushed it or nothing changed. A fully resolved group is deleted after its notice."""
    firing = {k: m for k, m in doc["members"].items() if m["firing"]}
    if not firing and doc["last_flush"] is None:  # fired and resolved inside group_wait: nobody hears of it
        if store.state_put(KIND, key, {**doc, "next_flush": None}, version, now):
            store.state_delete(KIND, key)
        return None
    changed = _state(doc) != doc["sent_state"]
    repeat_due = bool(firing) and doc["last_flush"] is not None and now - doc["last_flush"] >= repeat
    new = dict(doc)
    new["next_flush"] = now + repeat if firing else None
    if not changed and not repeat_due:
        store.state_put(KIND, key, new, version, now)
        return None
    new.update(last_flush=now, sent_state=_state(doc), seq=doc["seq"] + 1)
    if not store.state_put(KIND, key, new, version, now):
        return None
    if not firing:
        found = store.state_get(KIND, key)
        if found and found[1] == version + 1:
            store.state_delete(KIND, key)
    return notice(key, doc, new["seq"], now)


def notice(key: str, doc: dict, seq: int, now: float) -> Event:
    members = sorted(doc["members"].values(), key=lambda m: m["time"])
    firing = [m for m in members if m["firing"]]
    resolved = [m for m in members if not m["firing"]]
    shown = (firing or resolved)[:SHOWN]
    total = len(members) + doc["extra"]
    worst = min((Severity(m["severity"]) for m in (firing or members)), key=lambda s: s.rank)
    what = ", ".join(f"{k}={v}" for k, v in doc["labels"].items() if v) or doc["route"]
    if firing:
        title = f"{len(firing)} firing" + (f", {len(resolved)} resolved" if resolved else "") + f": {what}"
    else:
        title = f"All {total} resolved: {what}"
    more = total - len(shown)
    lines = [f"- {m['title']}" for m in shown] + ([f"- and {more} more"] if more > 0 else [])
    return Event(
        id=f"group|{key}|{seq}", source=members[0]["source"] if members else "azure-monitor",
        kind="alert.fired" if firing else "alert.resolved", severity=worst, title=title[:200],
        summary="\n".join(lines), time=datetime.fromtimestamp(now, timezone.utc), fingerprint=f"group:{key}",
        labels={**{k: v for k, v in doc["labels"].items() if v}, "group_size": str(total),
                "firing": str(len(firing)), "resolved": str(len(resolved)), "group": key},
        details={f"member.{i + 1}": m["title"] for i, m in enumerate(members[:50])},
    )
