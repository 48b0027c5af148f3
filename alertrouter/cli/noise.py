"""`alertrouter noise`: what notified most over a period and what to change in routing.yaml about
it, as text tables or one JSON document; each suggestion replayed to measure it (`--no-verify`
skips that). Reads the data dir's store; writes nothing to it."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import click

from .common import load_or_exit, open_data_store, terminal_progress
from ..config.schema import parse_duration
from ..replay.period import PeriodError, period

DEFAULT_SINCE = "30d"
_NIGHT = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")


def _seconds(option: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise PeriodError(f"{option}: {exc}") from None
    if seconds <= 0:
        raise PeriodError(f"{option} {value!r}: must be longer than zero")
    return seconds


def _night(value: str | None) -> tuple[int | None, int | None]:
    if value is None:
        return None, None
    m = _NIGHT.match(value)
    if not m or int(m[1]) > 23 or int(m[2]) > 23 or m[1] == m[2]:
        raise PeriodError(f"--night {value!r} is not a night; write its hours as START-END, like 22-07 "
                          "(hours 0-23, in the config's zone)")
    return int(m[1]), int(m[2])


@click.command("noise")
@click.option("--config", "config_path", default="routing.yaml", show_default=True, help="the routing.yaml in force")
@click.option("--since", default=None, help="the period back from now, like 30d or 12h (default 30d)")
@click.option("--from", "from_", default=None, help="start of the period instead: 2026-11-30 or an ISO date-time")
@click.option("--to", default=None, help="end of the period (exclusive; default now)")
@click.option("--flap-within", default=None, help="a rule firing again this soon after resolving flaps (default 30m)")
@click.option("--act-within", default=None, help="an alert resolved this soon resolved before anyone could act "
                                                 "(default 5m)")
@click.option("--night", default=None, help="night hours in the config's zone, START-END (default 22-07)")
@click.option("--on-call", default=None, help="the role whose pages per night are counted (default on-call)")
@click.option("--top", type=click.IntRange(1, 50), default=None, help="offenders shown and acted on (default 5)")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="replay each suggestion to measure what it reduces")
@click.option("--json", "as_json", is_flag=True, help="one JSON document instead of tables")
@click.option("--data-dir", default=".data", show_default=True)
def noise(config_path: str, since: str | None, from_: str | None, to: str | None, flap_within: str | None,
          act_within: str | None, night: str | None, on_call: str | None, top: int | None, verify: bool, as_json: bool, data_dir: str) -> None:
    """The rules that notify most, flapping, alerts resolved before anyone could act, pages per night,
    what each stage held, and a routing.yaml snippet for each top offender."""
    from ..noise import build, options_for
    from ..noise.text import render
    from ..noise.verify import verify as replay_each
    from ..replay import read_period

    try:
        start, end = period(time.time(), since or (None if from_ or to else DEFAULT_SINCE), from_, to)
        night_start, night_end = _night(night)
        given = dict(flap_within=_seconds("--flap-within", flap_within),
                     act_within=_seconds("--act-within", act_within), night_start=night_start, night_end=night_end,
                     on_call=on_call, top=top)
    except PeriodError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    loaded = load_or_exit(config_path)
    if on_call is not None and on_call not in loaded.config.roles:
        click.echo(f"error: --on-call {on_call!r}: {config_path} has no such role; its roles are "
                   f"{', '.join(sorted(loaded.config.roles))}", err=True)
        sys.exit(2)
    text = Path(config_path).read_text(encoding="utf-8")
    store = open_data_store(data_dir)
    try:
        recorded = read_period(store, start, end)  # read once: the report, then each suggestion's replay
        report = build(loaded, store, start, end, options_for(loaded, **given), text, config_path, recorded)
        if verify:  # a replay per suggestion: on a terminal, stderr says which one is running
            replay_each(loaded, text, report.suggestions, store, start, end, terminal_progress(), recorded)
    finally:
        store.close()
    click.echo(json.dumps(report.as_dict(), indent=2, default=str) if as_json else render(report), nl=as_json)
