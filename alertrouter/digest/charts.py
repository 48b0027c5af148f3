"""Charts as data the templates draw with table cells: horizontal stacked bars, one row per day.

HTML: each bar is a one-row table whose cells have a pixel width and a background colour: no
images, no external requests, no CSS Outlook ignores (it honours `width` and `bgcolor` on table
cells). Text: the same bars drawn with characters.
"""

from __future__ import annotations

from datetime import date
from typing import Any

BAR_PX = 320  # the longest bar, in pixels
TEXT_WIDTH = 30  # the longest bar, in characters
TEXT_MARKS = {"succeeded": "#", "failed": "x", "canceled": "-", "critical": "C", "error": "E", "warning": "W",
              "informational": "i", "verbose": "."}

RUN_COLOURS = {"succeeded": "#107c10", "failed": "#d13438", "canceled": "#8a8886"}
SEVERITY_COLOURS = {"critical": "#a4262c", "error": "#d13438", "warning": "#ca5010", "informational": "#0078d4",
                    "verbose": "#8a8886"}


def _scale(value: float, top: float, full: int, minimum: int) -> int:
    if value <= 0 or top <= 0:
        return 0
    return max(minimum, round(value / top * full))


def _text_bar(parts: list[tuple[str, int]], top: float, width: int) -> str:
    """Characters per segment from cumulative rounding, so the bar never outgrows `width` (a
    non-zero segment gets at least one character)."""
    out, cum, drawn = [], 0, 0
    for key, value in parts:
        if not value:
            continue
        cum += value
        n = max(1, round(cum / top * width) - drawn)
        out.append(TEXT_MARKS.get(key, "#") * n)
        drawn += n
    return "".join(out)


def stacked_bars(series: dict[date, dict[str, int]], keys: tuple[str, ...], colours: dict[str, str],
                 width_px: int = BAR_PX, width_chars: int = TEXT_WIDTH) -> dict[str, Any]:
    """Rows (one per day, in order) of segments sized against the largest day's total."""
    top = max((sum(v.get(k, 0) for k in keys) for v in series.values()), default=0)
    rows = []
    for day, values in series.items():
        total = sum(values.get(k, 0) for k in keys)
        segments = [{"key": k, "value": values.get(k, 0), "px": _scale(values.get(k, 0), top, width_px, 3),
                     "colour": colours[k]} for k in keys if values.get(k, 0)]
        text = _text_bar([(k, values.get(k, 0)) for k in keys], top, width_chars)
        rows.append({
            "day": day.isoformat(),
            "label": f"{day:%a %d %b}",
            "total": total,
            "segments": segments,
            "rest_px": max(0, width_px - sum(s["px"] for s in segments)),
            "text_bar": text,
            "breakdown": ", ".join(f"{values[k]} {k}" for k in keys if values.get(k, 0)),
        })
    legend = [{"key": k, "colour": colours[k], "mark": TEXT_MARKS.get(k, "#")} for k in keys]
    return {"rows": rows, "legend": legend, "max": top, "width_px": width_px}


def gauge(percent: float | None, width_px: int = 160) -> dict[str, Any]:
    """A budget bar: used share of the threshold (capped at the bar), green below 80 %, amber to 100, red above."""
    if percent is None:
        return {"px": 0, "rest_px": width_px, "colour": "#8a8886", "width_px": width_px}
    px = min(width_px, _scale(percent, 100, width_px, 2))
    colour = "#107c10" if percent < 80 else "#ca5010" if percent <= 100 else "#d13438"
    return {"px": px, "rest_px": width_px - px, "colour": colour, "width_px": width_px}
