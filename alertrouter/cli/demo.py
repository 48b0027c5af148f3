"""`alertrouter demo`: send a fresh scenario (runs starting, failing and completing, a storm from one
rule, a budget alert, a page that is resolved and one that escalates) to a running router, posted the
way Azure posts it, and say where to look at what the router made of it."""

from __future__ import annotations

import json
import secrets
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import click

from ..inbound import parse_payload
from ..rendering.safety import escape_controls
from .demo_scenario import STORM_RULE, STORM_SIZE, Step, scenario
from .post import START_IT, Unreachable, router_options, answer_text, as_azure_sends, endpoint_url, key_advice, post, shown_url


@click.command("demo")
@router_options
def demo(url: str, key: str | None) -> None:
    """Send a realistic scenario with current times and new ids to a running router (`make run`): Azure ML
    runs starting, failing and completing (Event Grid), a storm from one Azure Monitor rule, a budget
    alert, a Sev0 page that resolves and a Sev1 page that escalates (Action Groups). Run it again for
    more: nothing it sends is a duplicate."""
    if urlsplit(url.strip()).path.rstrip("/").lower().endswith(("/api/eventgrid", "/api/alerts")):
        raise click.BadParameter(f"{shown_url(url)} names an endpoint, but the demo posts to both /api/eventgrid "
                                 "and /api/alerts; give the base URL (without /api/...)", param_hint="--url")
    health = _health(url)
    now = datetime.now(timezone.utc)
    token = secrets.token_hex(3)
    steps, page = scenario(now, token)
    click.echo(f"alertrouter demo {token} → {shown_url(url)} (what each step does is what the shipped "
               "routing.yaml does with it)")
    totals = {"accepted": 0, "duplicates": 0, "notifications": 0}
    for number, step in enumerate(steps, 1):
        counts = _send(url, key, step)
        for k in totals:
            totals[k] += counts.get(k, 0)
        click.echo(f"\n{number}. {step.says}")
        click.echo(f"   {_posted(step)}: accepted {counts['accepted']}, duplicates {counts['duplicates']}, "
                   f"notifications {counts['notifications']}")
        click.echo(f"   → {step.then}")
    click.echo(f"\nsent {totals['accepted']} events, {totals['duplicates']} duplicates, "
               f"{totals['notifications']} notifications (sent, held or waiting)")
    _where_to_look(url, parse_payload(page).events[0].id, health.get("config"), now)


def _health(url: str) -> dict:
    """The router's /api/health, or exit 1 saying that nothing answers there and how to start it."""
    import requests

    shown = shown_url(url)
    try:
        resp = requests.get(endpoint_url(url, "/api/health"), timeout=10)
    except requests.RequestException as exc:
        click.echo(f"error: no router answers at {shown} ({type(exc).__name__}); {START_IT}", err=True)
        sys.exit(1)
    try:
        doc = resp.json() if resp.status_code == 200 else None
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or doc.get("status") != "ok":
        click.echo(f"error: {shown} answered GET /api/health with HTTP {resp.status_code}, not an alertrouter's "
                   f"health; give the router's base URL with --url (like http://127.0.0.1:7071), or {START_IT}",
                   err=True)
        sys.exit(1)
    return doc


def _send(url: str, key: str | None, step: Step) -> dict:
    """Post each of the step's payloads as Azure would; the summed counts, or exit 1 with the answer."""
    totals = {"accepted": 0, "duplicates": 0, "notifications": 0}
    for payload in step.payloads:
        path, headers = as_azure_sends(payload)
        try:
            resp = post(url, path, json.dumps(payload).encode(), headers, key)
        except Unreachable as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        if not resp.ok:
            click.echo(f"error: POST {path} for \"{step.says}\": HTTP {resp.status_code}: "
                       f"{escape_controls(answer_text(resp.text, key)[:500])}", err=True)  # whatever answered
            advice = key_advice(resp, key, url)
            if advice:
                click.echo(advice, err=True)
            sys.exit(1)
        try:
            counts = resp.json()
        except ValueError:
            counts = {}
        for k in totals:
            totals[k] += counts.get(k, 0) if isinstance(counts, dict) else 0
    return totals


def _posted(step: Step) -> str:
    batches = [p for p in step.payloads if isinstance(p, list)]
    if batches:
        events = sum(len(b) for b in batches)
        return f"POST /api/eventgrid (Event Grid, {len(batches)} batch{'es' if len(batches) > 1 else ''} of {events})"
    n = len(step.payloads)
    return f"POST /api/alerts (Action Group, common alert schema, {n} alert{'s' if n > 1 else ''})"


def _console(url: str) -> str:
    """The console's address: `/` on the local server, /api/console/ under the Functions host."""
    parts = urlsplit(url.strip())
    functions = (parts.hostname or "").endswith(".azurewebsites.net")
    path = parts.path.rstrip("/") + ("/api/console/" if functions else "/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _where_to_look(url: str, page_id: str, config: str | None, now: datetime) -> None:
    console = _console(url)
    click.echo("\nWhere to look:")
    rows = [
        ("console", console, "the events just sent, newest first; each one's trail"),
        ("trail", f"{console}event?id={quote(page_id, safe='')}",
         "the Sev0 page: routes tried, every stage's decision, the card as sent"),
        ("outbox", "alertrouter outbox list", "what was sent, what waits; --status held: grouped into…, "
                                              "inhibited by…, duplicate end notice"),
        ("sent", "the server's output and .data/notifications.jsonl",
         "with no channel secrets set, every role's notices go to the log channel"),
        ("in 30 s", "the storm's group notice", f"\"{STORM_SIZE} firing: alert_rule={STORM_RULE}\" to "
                                                  "software-engineer, one notice for the whole storm"),
        ("in 15 min", "the Sev1 page's escalation", "acknowledge it from its notice's Acknowledge link first "
                                                    "to stop it"),
    ]
    rows.extend(_digests(config, now))
    for label, where, what in rows:
        click.echo(f"  {label:<10} {where}\n  {'':<10} {what}")


def _digests(config: str | None, now: datetime) -> list[tuple[str, str, str]]:
    """A preview command per digest of the router's config (read here when its file is here), for the
    period that holds today; a general hint when the config cannot be read from here."""
    from ..config.load import load
    from ..errors import ConfigError

    try:
        digests = load(config).config.digests if config and Path(config).is_file() else None
    except (ConfigError, OSError):
        digests = None
    if digests is None:
        return [("digest", "alertrouter digest NAME --period-end YYYY-MM-DD",
                 "preview a digest of routing.yaml's digests: for a period that holds today")]
    out = []
    for name, d in digests.items():
        from zoneinfo import ZoneInfo

        tomorrow = (now.astimezone(ZoneInfo(d.time_zone)) + timedelta(days=1)).date().isoformat()
        out.append(("digest", f"alertrouter digest {name} --period-end {tomorrow}",
                    f"the {d.period_days} days up to today as {', '.join(d.roles)} will read it "
                    "(writes .data/digests/*.html to open)"))
    return out
