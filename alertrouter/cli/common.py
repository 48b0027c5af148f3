"""What every `alertrouter` command shares: the routing config (or exit 1 with every problem) and
the store of a data dir. The main CLI (`cli.py`) and the digest command (`cli_digest.py`) both
import it, so neither imports the other's helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config.load import load
from ..errors import ConfigError


def load_or_exit(config: str, give_path: str = "with --config PATH"):
    """The routing config at `config`, or exit 1 with every problem. `give_path` says how the command that
    failed takes the path (`check` as an argument, the others as --config), so the advice works as given."""
    if not Path(config).exists():
        hint = "run it in the folder that holds routing.yaml" if config == "routing.yaml" else "check the path"
        click.echo(f"error: {config}: file not found (looked for {Path(config).resolve()}); {hint}, or give the "
                   f"path of your routing config {give_path}", err=True)
        sys.exit(1)
    try:
        return load(config)
    except ConfigError as exc:
        for p in exc.problems:
            click.echo(f"error: {p}", err=True)
        sys.exit(1)


def open_data_store(data_dir: str):
    """The store the settings choose (SQLite in `data_dir` unless told otherwise)."""
    from ..settings import Settings
    from ..store import open_store

    settings = Settings()
    return open_store(settings.store, data_dir, settings.azure)


def terminal_progress():
    """Where a long command says how far it is: stderr when it is a terminal, else nowhere (a script
    reading the output gets the report alone)."""
    return (lambda line: click.echo(line, err=True)) if sys.stderr.isatty() else None
