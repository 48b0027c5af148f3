"""How people read numbers and times in notices: one style for durations, times and counts.

`duration_text` (re-exported by render.py) is the one way a length of time is written: "45 s",
"30 min 30 s", "2 h 5 min", "1 day 3 h". `iso_duration_text` writes Azure's ISO 8601 durations
(`PT5M`, a metric alert's window) the same way, or as written when they do not parse. `when_text` is
the one way a moment is written ("2017-06-26 18:41:00 UTC"); `count_text` gets the plural right.
No project imports: the inbound adapters, the pipeline and the renderer all use it.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_ISO = re.compile(r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
                  r"(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")


def duration_text(seconds: float | None) -> str:
    """'' for None or negative; seconds under a minute, minutes and seconds under an hour, hours and
    minutes under a day, then days and hours (each rounded to its smaller unit)."""
    if seconds is None or seconds < 0:
        return ""
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        m, sec = divmod(s, 60)
        return f"{m} min {sec} s" if sec else f"{m} min"
    m = int(round(seconds / 60))
    if m < 24 * 60:
        h, mins = divmod(m, 60)
        return f"{h} h {mins} min" if mins else f"{h} h"
    h = int(round(seconds / 3600))
    d, hrs = divmod(h, 24)
    return count_text(d, "day") + (f" {hrs} h" if hrs else "")


def iso_duration_seconds(text: str) -> float | None:
    """Seconds in an ISO 8601 duration of weeks, days, hours, minutes and seconds (`PT5M`, `P1D`,
    `PT1H30M`); None for anything else (years and months have no fixed length)."""
    m = _ISO.match((text or "").strip().upper())
    if not m or not any(m.groupdict().values()) or m.group(0).endswith("T"):
        return None
    g = {k: float(v or 0) for k, v in m.groupdict().items()}
    return g["w"] * 604800 + g["d"] * 86400 + g["h"] * 3600 + g["m"] * 60 + g["s"]


def iso_duration_text(text: str | None) -> str:
    """`PT5M` → '5 min', `PT1H` → '1 h', `P1D` → '1 day'; anything that does not parse, as written."""
    text = "" if text is None else str(text)
    seconds = iso_duration_seconds(text)
    return text if seconds is None else duration_text(seconds)


def when_text(moment: datetime | str | None, zone: timezone | None = None) -> str:
    """'2017-06-26 18:41:00 UTC' (in `zone`, UTC when none); an ISO string that does not parse, as
    written; a naive time is taken as UTC."""
    if moment is None or moment == "":
        return ""
    if isinstance(moment, str):
        try:
            moment = datetime.fromisoformat(moment)
        except ValueError:
            return moment
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    local = moment.astimezone(zone or timezone.utc)
    name = local.tzname() or "UTC"
    return local.strftime("%Y-%m-%d %H:%M:%S ") + name


def count_text(n: int, one: str, many: str | None = None) -> str:
    """'1 alert', '2 alerts' ('1 day', '3 days'); `many` when the plural is not `one` + 's'."""
    return f"{n} {one if n == 1 else (many or one + 's')}"


def sentences(*parts: str | None) -> str:
    """Non-empty parts as sentences: each not ending in . ! ? : gets a '.' before the next."""
    kept = [p.strip() for p in parts if p and p.strip()]
    return " ".join(p if i == len(kept) - 1 or p[-1] in ".!?:" else p + "." for i, p in enumerate(kept))
