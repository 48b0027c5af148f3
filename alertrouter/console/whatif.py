"""What if, on the routing page: a pasted or uploaded routing.yaml, checked with the problems
`alertrouter check` reports, then the last 7 days of the store replayed under it as
`alertrouter replay` does, and the comparison laid out for the page.

The pasted text lives in this request only: it is never written to disk or to the store, never
applied, never logged (the page shows it back in its own text box, nothing else does). Its
`${ENV_VAR}`s resolve in the running config's environment, as `check` resolves them; unresolved
ones are fine, nothing is sent. Limits: `MAX_CONFIG_BYTES` of config, and the `max_events` most
recent source events of the period: the replay runs in the request, at 2,600-3,000 events a second
on a quiet two-core machine for periods of 2,000-5,000 events (benchmarks/replay.py) and a few
times slower on busy cores, so the cap keeps a request under about ten seconds and its memory to
about 70 MB; the seeded month's 7 days (182 events) replay in 0.15 to 1.2 s.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath

from ..config.load import review
from ..errors import ConfigError
from ..replay import Report, replay
from ..replay.period import recent_start
from ..rendering.masking import mask_text
from ..replay.report import short_id
from . import forms

log = logging.getLogger("alertrouter.console")

DAYS = 7
MAX_CONFIG_BYTES = 256 * 1024
MAX_BODY_BYTES = 2 * MAX_CONFIG_BYTES + 16 * 1024  # the text box and the file, and the form's other fields
MAX_EVENTS = 5_000
SHOWN_CHANGES = 200
PASTED = "routing.yaml"


class TooLarge(forms.FormError):
    pass


@dataclass
class Submitted:
    """What the form sent: the config's text and the name its problems are said under."""

    csrf: str
    text: str
    name: str


def read_form(body: bytes, content_type: str) -> Submitted:
    """The what-if form's config: an uploaded file when one was chosen, else the text box."""
    if len(body) > MAX_BODY_BYTES:
        raise TooLarge(f"The form is {len(body) // 1024} KB; a routing.yaml here may be at most "
                       f"{MAX_CONFIG_BYTES // 1024} KB. Replay a bigger one with `alertrouter replay --config FILE`.")
    posted = forms.parse_multipart(body, content_type)
    filename, data = posted.files.get("upload", ("", b""))
    name, text = PASTED, posted.fields.get("config", "")
    if filename or data:
        name = PurePosixPath(filename.replace("\\", "/")).name or PASTED
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise forms.FormError(f"{name}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                                  "save the file as UTF-8 and upload it again") from None
        text = text.replace("\r\n", "\n")
    size = len(text.encode())
    if size > MAX_CONFIG_BYTES:
        raise TooLarge(f"{name} is {size // 1024} KB; a routing.yaml here may be at most {MAX_CONFIG_BYTES // 1024} KB. "
                       "Replay a bigger one with `alertrouter replay --config FILE`.")
    if not text.strip():
        raise forms.FormError("Paste a routing.yaml in the box or choose a file to upload.")
    return Submitted(posted.fields.get("csrf", ""), text, name)


@dataclass
class Side:
    """One table of figures, recorded beside replayed."""

    title: str
    keys: list[str]
    rows: list[list[str]]  # key cells…, recorded, replayed, change ("" when the same)


@dataclass
class WhatIfResult:
    """What the page shows of one what-if."""

    text: str = ""
    name: str = PASTED
    error: str = ""  # the form itself (too big, empty, not UTF-8: its text is not shown back), or the replay
    problems: list[str] = field(default_factory=list)  # as `check` says them
    warnings: list[str] = field(default_factory=list)
    report: Report | None = None
    tables: list[Side] = field(default_factory=list)
    counted: list[tuple[str, int]] = field(default_factory=list)
    changed: list[dict] = field(default_factory=list)  # the first SHOWN_CHANGES
    unknowable: list[dict] = field(default_factory=list)
    capped: str = ""
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.error or self.problems)


class WhatIf:
    """Runs what-ifs over one app's store (`max_events` is the period's cap; see `MAX_EVENTS`)."""

    def __init__(self, app, max_events: int = MAX_EVENTS, days: int = DAYS):
        self.app, self.max_events, self.days = app, max_events, days

    def run(self, text: str, name: str = PASTED) -> WhatIfResult:
        out = WhatIfResult(text=text, name=name)
        try:
            found = review(text, name, self.app.loaded.env)
        except ConfigError as exc:  # YAML syntax: the one problem, in plain words
            out.problems = list(exc.problems)
            return out
        out.problems, out.warnings = list(found.problems), list(found.warnings)
        if found.loaded is None:
            return out
        started = time.monotonic()
        start, end, out.capped = self.period()
        try:
            report = replay(found.loaded, self.app.store, start, end, name)
        except Exception as exc:  # the page says what failed; the log names the kind only, never the text
            log.error("console: a what-if replay failed (%s)", type(exc).__name__)
            said = mask_text(f"{type(exc).__name__}: {exc}", referenced_values(text, self.app.loaded.env))
            out.error = f"The replay failed: {said}"
            return out
        out.seconds = time.monotonic() - started
        self._lay_out(out, report)
        return out

    def period(self) -> tuple[datetime, datetime, str]:
        """[start, end) of the last `days` days, or of their most recent `max_events` source events
        (found without reading the whole week: `recent_start`), and what to say when it is the latter."""
        end = datetime.fromtimestamp(self.app.clock(), timezone.utc)
        floor = end - timedelta(days=self.days)
        first = recent_start(self.app.store, floor, end, self.max_events)
        if first is None:
            return floor, end, ""
        capped = (f"The store holds more than {self.max_events} events from the last {self.days} days, the most "
                  f"a what-if replays in one request: this replays the most recent ones, from "
                  f"{first.strftime('%Y-%m-%d %H:%M:%S')} UTC. `alertrouter replay --config FILE "
                  f"--since {self.days}d` replays them all.")
        return first, end, capped

    def _lay_out(self, out: WhatIfResult, report: Report) -> None:
        out.report = report
        rec, rep = report.recorded, report.replayed
        out.tables = [side("Notifications per role, channel and day (UTC)", ["Role", "Channel", "Day"],
                           rec.per_role_channel_day, rep.per_role_channel_day),
                      side("Pages", ["Role", "Channel"], rec.pages, rep.pages),
                      side("Notices held per stage", ["Stage"], rec.held, rep.held),
                      side("The router's own notices", ["Made as"], rec.router_notices, rep.router_notices)]
        said = Counter(ch.text.split(": ", 1)[0] for c in report.changed for ch in c.changes)
        out.counted = said.most_common()
        out.changed = [{"id": c.event.id, "short": short_id(c.event.id), "time": c.event.time, "title": c.event.title,
                        "kind": c.event.kind, "changes": c.changes} for c in report.changed[:SHOWN_CHANGES]]
        out.unknowable = [{"id": e.id, "short": short_id(e.id), "time": e.time, "title": e.title, "why": why}
                          for e, why in report.unknowable]


def referenced_values(text: str, env) -> tuple[str, ...]:
    """The values of the environment variables the text names (`${NAME}`): the server's secrets,
    which a message about the pasted config must not show."""
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
    return tuple(sorted({env[n] for n in names if env.get(n)}, key=len, reverse=True))


def side(title: str, keys: list[str], old: Counter, new: Counter) -> Side:
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, 0), new.get(key, 0)
        rows.append([*(key if isinstance(key, tuple) else (key,)), str(a), str(b), f"{b - a:+d}" if b != a else ""])
    return Side(title, keys, rows)
