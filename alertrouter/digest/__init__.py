"""Periodic summary digests (issue 6): figures over the store for a period, rendered as an email
(HTML with table-cell charts, plain text) and sent once per period to the digest's roles.

    aggregate.py  queries and figures (definitions and the run-metrics convention in its docstring)
    period.py     periods as whole local days in the digest's zone
    charts.py     bar charts as data for the templates
    render.py     the per-role view model and the email parts
    runner.py     due digests, exactly once per period, catch-up
    coverage.py   which periods have data (the router was running for them) and which are not sent
    sources.py    source events (what Azure sent) told from the router's own
    scheduler.py  DigestScheduler: the local server's background check
    storage.py    what the digest needs from the store (events by time, the period record)
"""

from .aggregate import DigestData, Figures, collect, figures
from .period import Period, latest_period, period_ending, period_for_fire
from .email import render_digest, view
from .runner import DigestOutcome, DigestRunner
from .scheduler import DigestScheduler
from .storage import PeriodLedger, events_between

__all__ = ["DigestData", "DigestOutcome", "DigestRunner", "DigestScheduler", "Figures", "Period", "PeriodLedger",
           "collect", "events_between", "figures", "latest_period", "period_ending", "period_for_fire",
           "render_digest", "view"]
