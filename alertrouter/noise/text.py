"""The noise report as text for a terminal, readable at 80 columns: a table per finding, then each
suggestion with what it reduces and the snippet to paste. `--json` prints `NoiseReport.as_dict()`.
Payload text is shown without its control characters, as in the replay's report."""

from __future__ import annotations

import textwrap

from ..rendering.safety import escape_controls
from ..replay.report import table
from .report import NoiseReport

WIDTH = 80


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def _section(title: str, headers: list[str], rows: list[list[str]], empty: str) -> list[str]:
    if not rows:
        return [title, f"  {empty}", ""]
    return [title, *("  " + line for line in table(headers, rows)), ""]


def _wrap(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(escape_controls(text), WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")


def render(r: NoiseReport) -> str:
    o = r.options
    out = [*_wrap(f"noise report from {r.start:%Y-%m-%d %H:%M} to {r.end:%Y-%m-%d %H:%M} UTC under {r.config}", ""),
           f"{r.source_events} source events, {r.notices} notices made (reached or held)", ""]
    rows = []
    for x in r.top:
        where = ", ".join(f"{role}/{ch} {n}" for (role, ch), n in x.by_target.most_common(2))
        more = len(x.by_target) - 2
        rows.append([_cut(x.rule, 22), str(x.notices), str(x.pages), str(x.held),
                     _cut(where + (f" +{more}" if more > 0 else ""), 36)])
    out += _section(f"Rules that notify most (top {o.top})", ["rule", "notices", "pages", "held", "to role/channel"],
                    rows, "(no notices)")
    out += _section(f"Flapping (fired again within {o.flap_within / 60:g} min of resolving, {o.flap_min}+ times)",
                    ["rule", "resource", "flaps", "days", "notices"],
                    [[_cut(f.rule, 24), _cut(f.resource, 20), str(f.flaps), str(f.days), str(f.notices)]
                     for f in r.flapping], "(no flapping rule)")
    out += _section(f"Resolved before anyone could act (within {o.act_within / 60:g} min), yet notified",
                    ["rule", "alerts", "of fired", "notices", "pages"],
                    [[_cut(q.rule, 30), str(q.alerts), str(q.fired), str(q.notices), str(q.pages)] for q in r.quick],
                    "(none)")
    n = r.nights.as_dict()
    out += [f"Pages per night for {n['role']} ({n['hours']})", *_wrap(f"time zone: {n['zone_from']}"),
            f"  {n['pages']} pages on {n['nights_paged']} of {n['nights']} nights; worst night {n['worst']}"]
    worst = sorted(r.nights.per_night.items(), key=lambda dn: (-dn[1], dn[0]))[:o.top]
    out += [f"  night of {d.isoformat()}: {c}" for d, c in worst] + [""]
    out += _section("Notices held by each stage", ["stage", "notices", "share"],
                    [[s, str(v["notices"]), f"{v['share'] * 100:.1f}%"] for s, v in r.held.items()], "(none)")
    out += _section(f"Fired together (the second within {o.together_within / 60:g} min of the first)",
                    ["first", "then", "times", "its notices meanwhile"],
                    [[_cut(p.source, 22), _cut(p.target, 22), str(p.times), str(p.notices)] for p in r.pairs[:o.top]],
                    "(no pair)")
    out += _section(f"Same hour most days ({o.zone})", ["rule", "role", "hour", "days", "notices"],
                    [[_cut(x.rule, 22), _cut(x.role, 20), f"{x.hour:02d}:00", str(x.days), str(x.notices)]
                     for x in r.recurring[:o.top]], "(none)")
    out.append(f"Suggestions: {len(r.suggestions)}")
    for i, s in enumerate(r.suggestions, 1):
        measured = "" if s.measured is None else f"; replay measured -{s.measured}" if s.measured >= 0 \
            else f"; replay measured +{-s.measured}"
        if s.measured is None and s.kind == "mute":
            measured = "; replay counts a waiting notice as sent, so it has no figure for this"
        out += ["", *_wrap(f"{i}. {s.kind} for {s.rule}: {s.claim.text()}{measured}", ""), *_wrap(s.why)]
        out += ["    " + escape_controls(line) for line in s.snippet.rstrip().splitlines()]
    if r.suggestions:
        out += ["", *_wrap("Try one: paste its snippet into a copy of the config and run "
                           "`alertrouter replay --config COPY --since ...`.", "")]
    for note in r.notes:
        out += _wrap(note, "")
    return "\n".join(out) + "\n"
