"""A group notice's members as templates see them: `group` in the view model (see render.py).

The group notice (pipeline/group.notice) carries its shown members as data (`Event.members`);
here each becomes what people act on, cut by the role's visibility as the notice itself is:
title, severity, when it fired (or resolved), its facts (resource, metric, condition, value, its
dimensions) and its https links; a restricted role gets only the labels it may see, and no links.
"""

from __future__ import annotations

from typing import Any

from ..model import Event
from .safety import safe_links
from .wording import iso_duration_text, when_text

# A member's facts, in order (label keys joined by `fmt`); the first of each name whose labels are there.
MEMBER_FACTS = (
    ("Alert rule", ("alert_rule",), "{}"),
    ("Resource", ("resource",), "{}"),
    ("Metric", ("metric_name", "time_aggregation"), "{} ({})"),
    ("Metric", ("metric_name",), "{}"),
    ("Condition", ("operator", "threshold"), "{} {}"),
    ("Value", ("metric_value",), "{}"),
    ("Window", ("window_size",), "{}"),
)


def group_view(event: Event, *, restricted: bool, visible: frozenset[str], sev: dict[str, str],
               allow_http: bool = False) -> dict[str, Any]:
    """{} for any notice but a group's; else its counts (size, firing, resolved), the members shown
    and how many more there are. `visible`: the labels a restricted role may see."""
    if not event.members:
        return {}
    members = [_member(m, event, restricted, visible, sev, allow_http) for m in event.members]
    size = _int(event.labels.get("group_size")) or len(members)
    return {"size": size, "firing": _int(event.labels.get("firing")), "resolved": _int(event.labels.get("resolved")),
            "members": members, "more": max(0, size - len(members))}


def _member(m: dict, event: Event, restricted: bool, visible: frozenset[str], sev: dict[str, str],
            allow_http: bool) -> dict[str, Any]:
    labels = {str(k): str(v) for k, v in (m.get("labels") or {}).items() if not restricted or k in visible}
    links = {} if restricted else safe_links({str(k): str(u) for k, u in (m.get("links") or {}).items()},
                                             allow_http)
    firing = bool(m.get("firing"))
    when = when_text(str(m.get("time", "")))
    facts: list[tuple[str, str]] = []
    for name, keys, fmt in MEMBER_FACTS:
        if any(name == f for f, _ in facts) or not all(labels.get(k) for k in keys):
            continue
        if name == "Alert rule" and labels["alert_rule"] == event.labels.get("alert_rule"):
            continue  # the notice names it once
        value = fmt.format(*(labels[k] for k in keys))
        facts.append((name, iso_duration_text(value) if name == "Window" else value))
    facts.extend((k.removeprefix("dimension."), v) for k, v in labels.items() if k.startswith("dimension."))
    facts.append(("Fired at" if firing else "Resolved at", when))
    severity = str(m.get("severity", ""))
    return {"title": str(m.get("title", "")), "severity": severity, "sev": sev.get(severity, ""),
            "status": "firing" if firing else "resolved", "time": str(m.get("time", "")), "when": when,
            "labels": labels, "links": links, "facts": facts}


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0

