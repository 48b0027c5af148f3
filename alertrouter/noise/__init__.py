"""The noise report: what notified most over a period, and what to change in routing.yaml about it,
each change one that `alertrouter replay` can try. Its parts, one job each:

    reading.py   the store's period: source events and every notice, with its outcome and rule
    findings.py  top rules, flapping rules, alerts resolved before anyone could act, pages per
                 night, the share of notices each stage held
    patterns.py  pairs of rules that fire together; rules that notify in the same hour most days
    suggest.py   the suggestions (group_wait, inhibit, mute) as snippets and as edits
    report.py    the report as one object (`build`), `as_dict()` for JSON
    text.py      the report as text tables for a terminal (80 columns)
    verify.py    a suggestion applied and replayed: what it really reduces
"""

from __future__ import annotations

from .findings import Options
from .report import NoiseReport, build, options_for

__all__ = ["NoiseReport", "Options", "build", "options_for"]
