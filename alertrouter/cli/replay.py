"""`alertrouter replay`: the stored events of a period under another routing.yaml, beside what was
recorded, as text tables or one JSON document. Reads the data dir's store; writes nothing to it. On a
terminal it says on stderr how far a long replay is (read, every 10,000 events simulated, comparing)."""

from __future__ import annotations

import json
import sys
import time

import click

from .common import load_or_exit, open_data_store, terminal_progress
from ..replay.period import PeriodError, period


@click.command("replay")
@click.option("--config", "config_path", required=True, help="the routing.yaml to try (it is not applied)")
@click.option("--since", default=None, help="the period back from now, like 7d or 12h (default 7d)")
@click.option("--from", "from_", default=None, help="start of the period: 2026-11-30 or an ISO date-time")
@click.option("--to", default=None, help="end of the period (exclusive; default now)")
@click.option("--json", "as_json", is_flag=True, help="one JSON document instead of tables")
@click.option("--data-dir", default=".data", show_default=True)
def replay(config_path: str, since: str | None, from_: str | None, to: str | None, as_json: bool,
           data_dir: str) -> None:
    """Replay the stored events of a period under CONFIG, sending nothing, beside what was recorded."""
    from ..replay import replay as run_replay
    from ..replay.report import render

    try:
        start, end = period(time.time(), since, from_, to)
    except PeriodError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    loaded = load_or_exit(config_path)
    store = open_data_store(data_dir)
    try:
        report = run_replay(loaded, store, start, end, config_path, terminal_progress())
    finally:
        store.close()
    click.echo(json.dumps(report.as_dict(), indent=2) if as_json else render(report), nl=as_json)
