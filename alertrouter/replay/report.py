"""The replay's report as text for a terminal: a table per section (notifications per role, channel
and day; pages; notices held per stage; the router's own notices), recorded beside replayed, then
the changed events (id prefix, time, title, what changed and what decided it) and the events a
replay cannot judge. `--json` prints `Report.as_dict()` instead.

Payload text (titles, rule names, a stage's reason quoting another alert) reaches a terminal here:
its control, bidi and line-separator characters are shown as escapes (`\x1b`, `\n`, `\u202e`),
so an alert cannot clear the screen, colour or reorder the text, or forge a line of the report."""

from __future__ import annotations

from collections import Counter

from ..rendering.safety import escape_controls
from .compare import Report


def table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell; numbers right-aligned; cells shown without control characters."""
    headers, rows = [escape_controls(str(c)) for c in headers], [[escape_controls(str(c)) for c in r] for r in rows]
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if str(c).lstrip("+-").isdigit() else str(c).ljust(w)
                         for c, w in zip(cells, widths)).rstrip()
    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _side_by_side(title: str, keys: list[str], old: Counter, new: Counter) -> list[str]:
    rows = []
    for key in sorted(set(old) | set(new)):
        cells = list(key) if isinstance(key, tuple) else [key]
        a, b = old.get(key, 0), new.get(key, 0)
        rows.append([*cells, str(a), str(b), f"{b - a:+d}" if b != a else ""])
    if not rows:
        return [title, "  (none)", ""]
    return [title, *("  " + r for r in table([*keys, "recorded", "replayed", "change"], rows)), ""]


def short_id(event_id: str) -> str:
    """An event id's recognisable start: its sender's own id (the alert's last path segment, Event
    Grid's event id), first 12 characters. `--json` gives ids whole."""
    parts = event_id.split("|")
    if parts[0].startswith("/") and len(parts) > 1 and parts[1] not in ("Fired", "Resolved"):
        own = parts[1]  # Event Grid and CloudEvents: topic|id
    else:
        own = parts[0].rstrip("/").rsplit("/", 1)[-1]  # an alert: the last segment of its alert id
    return own[:12]


def _changes_counted(report: Report) -> list[str]:
    said = Counter(ch.text.split(": ", 1)[0] for c in report.changed for ch in c.changes)
    rows = [[text, str(n)] for text, n in said.most_common()]
    return ["Changes, counted", *("  " + r for r in table(["what changed", "events"], rows)), ""] if rows else []


def render(report: Report) -> str:
    rec, rep = report.recorded, report.replayed
    out = [f"replay of {report.events} source event(s) from {report.start.isoformat()} to "
           f"{report.end.isoformat()} under {report.config}", *report.notes, ""]
    out += _side_by_side("Notifications per role, channel and day (UTC)", ["role", "channel", "day"],
                         rec.per_role_channel_day, rep.per_role_channel_day)
    out += _side_by_side("Pages", ["role", "channel"], rec.pages, rep.pages)
    out += _side_by_side("Notices held per stage", ["stage"], rec.held, rep.held)
    out += _side_by_side("The router's own notices (events)", ["made as"], rec.router_notices, rep.router_notices)
    out += _changes_counted(report)
    out.append(f"Events whose outcome changed: {len(report.changed)}")
    for c in report.changed:
        e = c.event
        out.append(escape_controls(f"  {short_id(e.id):<12}  {e.time.strftime('%Y-%m-%d %H:%M:%S')}  {e.title}"))
        for ch in c.changes:
            out.append(escape_controls(f"      {ch.text} [{', '.join(ch.channels)}] (route {ch.route}, "
                                       f"decided by {ch.stage})"))
    if report.unknowable:
        out += ["", f"Events replay cannot judge: {len(report.unknowable)}"]
        for e, why in report.unknowable:
            out.append(escape_controls(f"  {short_id(e.id):<12}  {e.time.strftime('%Y-%m-%d %H:%M:%S')}  "
                                       f"{e.title}: {why}"))
    return "\n".join(out) + "\n"
