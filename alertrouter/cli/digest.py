"""`alertrouter digest NAME`: render a digest now for preview, or send it.

    alertrouter digest weekly-summary                          # last fired period → .data/digests/*.html
    alertrouter digest weekly-summary --period-end 2026-10-26  # the period ending before 26 Oct (local)
    alertrouter digest weekly-summary --send                   # send it (recorded: the timer will not repeat it)

The subject (a template may put payload text in it), template errors (they may quote it), the reason
stored with a period not sent and each receiver's answer are printed with their control, bidi and
line-separator characters as escapes (`escape_controls`).
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timezone
from pathlib import Path

import click

from .common import load_or_exit, open_data_store
from ..rendering.safety import escape_controls


@click.command("digest")
@click.argument("name")
@click.option("--period-end", "period_end", default=None, metavar="DATE",
              help="first local day after the period (YYYY-MM-DD, e.g. the Monday it is sent); "
                   "default: the period of the schedule's last fire")
@click.option("--out", "out_dir", default=None, help="folder for the preview files (default: DATA_DIR/digests)")
@click.option("--role", default=None, help="preview as this role (default: the digest's first role)")
@click.option("--send", "do_send", is_flag=True, help="send it to the digest's roles and record the period as sent")
@click.option("--force", is_flag=True, help="with --send: send even if this period was sent before")
@click.option("--config", default="routing.yaml", show_default=True)
@click.option("--data-dir", default=".data", show_default=True)
def digest(name: str, period_end: str | None, out_dir: str | None, role: str | None, do_send: bool, force: bool,
           config: str, data_dir: str) -> None:
    """Render digest NAME for preview (an HTML file to open, and the text part), or --send it."""
    from ..channels.build import build_channels
    from ..digest.period import period_ending
    from ..digest.coverage import NO_DATA, NOT_YET
    from ..digest.runner import DigestRunner

    loaded = load_or_exit(config)
    digests = loaded.config.digests
    if name not in digests:
        known = ", ".join(sorted(digests)) or "none: add one under `digests:` in " + config
        click.echo(f'error: no digest "{name}" (digests: {known})', err=True)
        sys.exit(1)
    if role is not None and role not in loaded.config.roles:
        click.echo(f'error: no role "{role}" (roles: {", ".join(sorted(loaded.config.roles))})', err=True)
        sys.exit(1)
    d = digests[name]
    store = open_data_store(data_dir)
    try:
        runner = DigestRunner(loaded, store, build_channels(loaded, Path(data_dir)))
        if period_end:
            try:
                end = date.fromisoformat(period_end)
            except ValueError:
                raise click.BadParameter(f'"{period_end}" is not a date like 2026-10-26', param_hint="--period-end")
            period = period_ending(end, d.period_days, d.time_zone)
        else:
            period = runner.latest(name, datetime.now(timezone.utc))
        if do_send:
            outcome = runner.send(name, period, force=force)
            record = runner.ledger.get(name, period.key) or {}
            if outcome.status in (NO_DATA, NOT_YET) or (outcome.status == "skipped" and record.get("status") == NO_DATA):
                why = outcome.detail.removeprefix("not sent: ") or record.get("detail", "")
                click.echo(f"digest {name} for {period.label()} not sent: no data ({escape_controls(str(why))}); "
                           "use --force to send it anyway", err=True)
                sys.exit(1)
            if outcome.status == "skipped":
                click.echo(f"digest {name} for {period.label()} was already sent ({record.get('status', '?')}); "
                           "use --force to send it again", err=True)
                sys.exit(1)
            click.echo(escape_controls(outcome.summary()))  # each receiver's answer
            sys.exit(0 if outcome.status == "sent" else 1)
        data = runner.build(name, period)
        cover = runner.coverage(name, period, data)
        msg = runner.preview(name, period, role, data)
        folder = Path(out_dir) if out_dir else Path(data_dir) / "digests"
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{name}-{period.first_day.isoformat()}-{msg.role}"
        html_path, text_path = folder / f"{stem}.html", folder / f"{stem}.txt"
        html_path.write_text(msg.parts.get("html", ""), encoding="utf-8")
        text_path.write_text(f"Subject: {msg.parts.get('subject', '')}\n\n{msg.parts.get('text', '')}\n",
                             encoding="utf-8")
        for part, err in msg.template_errors.items():
            click.echo(f"template error in {part} (plain rendering used): {escape_controls(str(err))}", err=True)
        click.echo(f"Subject: {escape_controls(msg.parts.get('subject', ''))}")
        click.echo(f"period: {period.start_local.isoformat()} – {period.end_local.isoformat()} ({d.time_zone})")
        click.echo(f"wrote {html_path.resolve().as_uri()}")
        click.echo(f"wrote {text_path}")
        if cover.state == NO_DATA:
            click.echo(f"NO DATA for this period: {cover.reason}. Its figures are all zero because nothing was "
                       "recorded, not because nothing happened; the timer does not send it.")
        elif cover.state == "quiet":
            click.echo(f"no events in this period: {cover.reason}.")
    finally:
        store.close()
