"""`alertrouter`: check a config, explain a payload's route, serve locally, send a payload.

Text that comes from a payload, a stored record or a receiver (titles, label values in a route's
trail, a stage's reason quoting a silence's comment or another alert, a delivery attempt's detail,
a router's answer) is printed through `escape_controls`: its control, bidi and line-separator
characters show as escapes (`\\x1b`, `\\r`, `\\u202e`), so it cannot clear, colour or reorder the
terminal, or forge a line. Our own wording, and what `check` and `serve` say about the operator's own
config, are printed as they are."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .common import load_or_exit as _load_or_exit, open_data_store as _store
from .demo import demo as _demo
from .digest import digest as _digest
from .post import Unreachable, router_options, answer_text, as_azure_sends, endpoint_url as _endpoint_url, key_advice, post
from .noise import noise as _noise
from .replay import replay as _replay
from ..errors import PayloadError
from ..inbound import decode, parse_payload
from ..rendering.safety import escape_controls, json_controls


def _read_payload(path: str):
    try:
        body = Path(path).read_bytes()
    except OSError as exc:
        click.echo(f"error: cannot read payload {path}: {exc.strerror}", err=True)
        sys.exit(2)
    try:
        return body, decode(body)
    except PayloadError as exc:
        click.echo(f"error: {path}: {exc}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Route Azure ML events and Azure Monitor alerts to team roles."""


@main.command()
@click.argument("config", default="routing.yaml")
def check(config: str) -> None:
    """Validate a routing config and compile every template it can select (exit 1 with every problem)."""
    from ..config.load import review_file
    from ..rendering import problems as template_problems
    from ..rendering.renderer import Renderer

    if not Path(config).exists():
        _load_or_exit(config, give_path="as the argument: alertrouter check PATH")  # says where it looked; exits
    review = review_file(config)
    for w in review.warnings:
        click.echo(f"warning: {w}", err=True)
    for p in review.problems:
        click.echo(f"error: {p}", err=True)
    if review.loaded is None:
        sys.exit(1)
    loaded = review.loaded
    problems = template_problems.check(loaded, Renderer())
    for p in problems:
        click.echo(f"error: {p}", err=True)
    if problems:
        click.echo(f"{config}: {len(problems)} template problem(s); until fixed, notifications that select a broken "
                   "template are sent with the built-in one", err=True)
        sys.exit(1)
    cfg = loaded.config
    click.echo(f"{config}: OK ({len(cfg.channels)} channels, {len(cfg.roles)} roles, {len(cfg.routes)} routes)")


@main.command()
@click.argument("payload")
@click.option("--config", default="routing.yaml", show_default=True, help="routing config")
@click.option("--json", "as_json", is_flag=True, help="one JSON object on stdout")
@click.option("--data-dir", default=".data", show_default=True,
              help="store whose silences, firing alerts and groups the stages consult (read only)")
def route(payload: str, config: str, as_json: bool, data_dir: str) -> None:
    """Show the events a payload becomes, the routes, roles and channels each reaches, and what the
    stages (silences, inhibition, time windows, grouping) would do; nothing is written or sent."""
    loaded = _load_or_exit(config)
    _, obj = _read_payload(payload)
    try:
        parsed = parse_payload(obj)
    except PayloadError as exc:  # an unknown payload's message names its keys
        click.echo(f"error: {payload}: {escape_controls(str(exc))}", err=True)
        sys.exit(2)
    import time as _time

    from ..pipeline.explain import explain
    from ..pipeline import Pipeline
    from ..routing.router import Router
    from ..store.sqlite import SqliteStore

    db = Path(data_dir) / "alertrouter.db"
    pipeline = Pipeline(loaded, SqliteStore(db) if db.exists() else SqliteStore(":memory:"))
    out = explain(Router(loaded), pipeline, parsed.events, _time.time())
    if as_json:
        doc: dict = {"events": out}
        if parsed.handshake is not None:
            doc["handshake"] = parsed.handshake
        click.echo(json.dumps(doc, indent=2))
        return
    if parsed.handshake is not None:
        click.echo(f"Event Grid validation handshake; the answer is {json.dumps(parsed.handshake)}")
    for e in out:
        click.echo(escape_controls(f"{e['kind']} [{e['severity']}] {e['title']}"))
        click.echo(f"  id: {escape_controls(e['id'])}")
        for line in e["trail"]:  # a route that did not match quotes the event's value
            click.echo(f"  route {escape_controls(line)}")
        for t in e["targets"]:
            extra = f" (instead of {t['instead_of']}: its environment variables are not set)" if "instead_of" in t else ""
            # the reason may quote a silence's comment or another alert's title
            held = f"  [{t['action']}: {t['reason']}]" if t["action"] != "send" else ""
            click.echo(escape_controls(f"  → {t['role']} via {t['channel']}{extra}{held}"))


@main.command()
@click.argument("payload")
@click.option("--channel", "channel_name", required=True, help="channel name from routing.yaml (or log)")
@click.option("--role", default=None, help="render for this role (default: the roles the routes send it to)")
@click.option("--config", default="routing.yaml", show_default=True)
@click.option("--out", "out_dir", default=None, help="write each notification as .json (+ .html, .txt) here")
@click.option("--data-dir", default=".data", show_default=True, help="store used for run durations")
def render(payload: str, channel_name: str, role: str | None, config: str, out_dir: str | None,
           data_dir: str) -> None:
    """Preview exactly what a channel would send for a payload (secrets masked); nothing is sent."""
    from ..delivery.preview import PreviewError, previews

    loaded = _load_or_exit(config)
    _, obj = _read_payload(payload)
    try:
        parsed = parse_payload(obj)
        items = previews(loaded, parsed.events, channel_name, role, data_dir)
    except PayloadError as exc:
        click.echo(f"error: {payload}: {escape_controls(str(exc))}", err=True)
        sys.exit(2)
    except PreviewError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if not items:
        click.echo("no notification: no event in this payload reaches that channel (use --role to force one)",
                   err=True)
    for item in items:
        click.echo(f"── {escape_controls(item.label)}")  # a group's label values
        for part, err in item.template_errors.items():
            click.echo(f"   template error in {part}: {err}")  # escaped where it is made (rendering/problems.py)
        click.echo(json_controls(item.json_text))  # its JSON (ensure_ascii=False) leaves DEL, C1 and bidi raw
        if out_dir:
            for path in item.write(Path(out_dir)):
                click.echo(f"   wrote {path}")


@main.command()
@click.option("--config", default="routing.yaml", show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=7071, show_default=True, type=int)
@click.option("--data-dir", default=".data", show_default=True)
@click.option("--allowed-hosts", default="", metavar="NAMES",
              help="more Host names to answer to, comma-separated (a proxy or tunnel in front; added to "
                   "ALERTROUTER_ALLOWED_HOSTS); other names get 400")
def serve(config: str, host: str, port: int, data_dir: str, allowed_hosts: str) -> None:
    """Run the router locally on the Functions routes (SQLite store in the data dir)."""
    from ..build import SERVER, build
    from ..http.server import serve as run
    from ..settings import Settings

    from ..logs import setup as setup_logging

    settings = Settings()
    setup_logging(settings.log_format)
    loaded = _load_or_exit(config)
    for w in loaded.warnings:
        click.echo(f"warning: {w}", err=True)
    from ..http.auth import Authenticator

    try:
        auth = Authenticator.from_settings(settings)
    except ValueError as exc:
        click.echo(f"error: settings: {exc}", err=True)
        sys.exit(1)
    if auth.open and host not in ("127.0.0.1", "localhost", "::1"):
        click.echo(f"error: refusing to listen on {host} without authentication; set ALERTROUTER_API_KEY "
                   "(callers send it as x-functions-key or ?code=) or ALERTROUTER_ENTRA__TENANT_ID", err=True)
        sys.exit(1)
    from ..http.hostguard import HostGuard

    allowed_hosts = ",".join(h for h in (settings.allowed_hosts, allowed_hosts) if h)
    try:
        names = HostGuard(host, port, settings.public_url, allowed_hosts)
    except ValueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    built = build(settings, SERVER, loaded=loaded, data_dir=data_dir,
                  ack_secret=settings.ack_secret.encode() or _local_ack_secret(Path(data_dir)),
                  public_url=settings.public_url if settings.public_url != "http://127.0.0.1:7071"
                  else f"http://{host}:{port}", auth=auth, bind=host,
                  console_secret=_local_secret(Path(data_dir), "console-secret"))
    app = built.app
    pending = app.store.counts().get("pending", 0)
    click.echo(f"alertrouter: listening on http://{host}:{port} (config {config}, data {data_dir})", err=True)
    click.echo("  POST /api/eventgrid  POST /api/alerts  GET /api/health", err=True)
    click.echo(f"  console: http://{host}:{port}/", err=True)
    click.echo("  answers to Host: " + ("any name" if names.any_host else ", ".join(sorted(names.hosts)))
               + (" and any IP address" if names.wildcard else "") + " (more: ALERTROUTER_ALLOWED_HOSTS)", err=True)
    if pending:
        click.echo(f"  resuming {pending} pending notification(s)", err=True)
    if auth.open:
        click.echo("  no key set: accepting unauthenticated posts (loopback only); set ALERTROUTER_API_KEY "
                   "to require one", err=True)
    from ..digest import DigestRunner, DigestScheduler

    digests = DigestScheduler(DigestRunner.from_app(app)) if loaded.config.digests else None
    if digests is not None:
        digests.start()
    try:
        run(app, built.dispatcher, host, port, max_body=settings.max_body_bytes, auth=auth, console=built.console,
            allowed_hosts=allowed_hosts)
    finally:
        if digests is not None:
            digests.stop()


def _local_secret(data_dir: Path, name: str) -> bytes:
    """A random key of the local server, made once and kept in the data dir, readable by its owner
    only: created with mode 0600 in one step (never briefly readable by others), and tightened to
    0600 when an older install left it looser."""
    import os
    import secrets as _secrets

    import tempfile

    path = data_dir / name
    data_dir.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # written aside (mkstemp: 0600), then linked in: a reader never sees it half made
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=data_dir)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_secrets.token_bytes(32))
            os.link(tmp, path)
        except FileExistsError:  # another process made it first: theirs is kept
            pass
        finally:
            os.unlink(tmp)
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)
    secret = path.read_bytes()
    if len(secret) < 16:
        click.echo(f"error: {path} holds {len(secret)} bytes, too short for a key; delete it and a new one is made",
                   err=True)
        sys.exit(1)
    return secret


def _local_ack_secret(data_dir: Path) -> bytes:
    """The local server's acknowledge-link key (`ack-secret` in the data dir)."""
    return _local_secret(data_dir, "ack-secret")


@main.command()
@click.argument("payload")
@router_options
def send(payload: str, url: str, key: str | None) -> None:
    """POST a payload file to a running router with the headers Azure would send."""
    body, obj = _read_payload(payload)
    path, headers = as_azure_sends(obj)
    try:
        resp = post(url, path, body, headers, key)
    except Unreachable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"POST {path}: HTTP {resp.status_code}")
    # whatever answers at --url: it may quote the payload; its line breaks stay, CR and the rest are escaped
    click.echo(escape_controls(answer_text(resp.text, key), keep_newlines=True))
    advice = key_advice(resp, key, url)
    if advice:
        click.echo(advice, err=True)
    sys.exit(0 if resp.ok else 1)


# --- silences ---


def _matchers(specs: tuple[str, ...]) -> dict:
    """label=value, label!=value, label=~regex, label!~regex → a routing.yaml-style match mapping."""
    import re as _re

    from ..pipeline import silences

    out: dict = {}
    for spec in specs:
        m = _re.fullmatch(r"([^=!~]+?)\s*(=~|!~|!=|=)\s*(.*)", spec)
        if not m:
            raise click.BadParameter(f'"{spec}" is not a matcher like severity=critical, resource=~"vm-.*" '
                                     "or workspace!=sandbox", param_hint="--match")
        key, op, value = m[1].strip(), m[2], m[3].strip().strip('"')
        out[key] = silences.matcher_spec(op, value)
    return out


@main.group()
def silence() -> None:
    """Add, list and expire silences (matching notifications are recorded, not sent)."""


@silence.command("add", short_help="Silence matching notifications for a while.")
@click.option("--match", "match", multiple=True, required=True, help="label=value, label!=value, label=~regex or label!~regex; repeat it: all must match")
@click.option("--duration", default="1h", show_default=True, help="how long, like 30m, 2h, 1d")
@click.option("--author", required=True, help="who is silencing (shown in the console and `silence list`)")
@click.option("--comment", required=True, help="why, for whoever wonders where the notifications went")
@click.option("--data-dir", default=".data", show_default=True, help="the local server's store")
def silence_add(match: tuple[str, ...], duration: str, author: str, comment: str, data_dir: str) -> None:
    """Silence notifications whose event matches every --match, from now for --duration.

    \b
    Example:
      alertrouter silence add --match resource=vm-7 --match alert_rule=~"cpu.*" \\
        --duration 2h --author ana --comment "patching vm-7"
    """
    import time as _time

    from ..pipeline import silences

    now = _time.time()
    try:
        s = silences.create(_store(data_dir), matchers=_matchers(match), starts_at=now,
                            ends_at=now + _duration(duration), created_by=author, comment=comment, now=now)
    except silences.SilenceError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{s.id}: silencing {json.dumps(s.matchers)} until {_when(s.ends_at)} UTC")


@silence.command("list", short_help="Active and pending silences (--all: expired too).")
@click.option("--all", "show_all", is_flag=True, help="expired ones too (as the console's silences page shows them)")
@click.option("--data-dir", default=".data", show_default=True, help="the local server's store")
def silence_list(show_all: bool, data_dir: str) -> None:
    """List active and pending silences, newest first (with --all, expired ones too)."""
    import time as _time

    from ..pipeline import silences

    now = _time.time()
    every = silences.all_silences(_store(data_dir))
    rows = [s for s in every if show_all or s.active(now) or s.starts_at > now]
    if not rows:
        hidden = len(every) - len(rows)
        click.echo("no silences" if not hidden else f"no active or pending silences ({hidden} expired: --all shows them)")
    for s in rows:
        state = "active" if s.active(now) else "pending" if s.starts_at > now else "expired"
        end = (f"expired {_when(min(s.expired_at or s.ends_at, s.ends_at))}" if state == "expired"
               else f"until {_when(s.ends_at)}")
        click.echo(escape_controls(f"{s.id}  {state:<7}  {json.dumps(s.matchers)}  {end}  by {s.created_by}: "
                                   f"{s.comment}"))


@silence.command("expire", short_help="End a silence now.")
@click.argument("silence_id")
@click.option("--data-dir", default=".data", show_default=True, help="the local server's store")
def silence_expire(silence_id: str, data_dir: str) -> None:
    """End silence SILENCE_ID now (ids: `alertrouter silence list`); what it held stays held."""
    import time as _time

    from ..pipeline import silences

    try:
        s = silences.expire(_store(data_dir), silence_id, _time.time())
    except silences.SilenceError as exc:
        click.echo(f"error: {exc}; the ids are in `alertrouter silence list --all`", err=True)
        sys.exit(1)
    click.echo(f"{s.id} expired (notifications it held stay held)")


# --- outbox: see and re-drive what the dispatcher did ---


def _when(ts: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


def _duration(text: str) -> float:
    import re

    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip())
    if not m:
        raise click.BadParameter(f'"{text}" is not a duration like 30d, 12h, 90m (units: s, m, h, d, w)')
    return float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m[2]]


@main.group()
def outbox() -> None:
    """List, inspect, re-drive and purge notifications in the outbox."""


@outbox.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "dead", "held"]), default=None)
@click.option("--limit", default=50, show_default=True)
@click.option("--data-dir", default=".data", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def outbox_list(status: str | None, limit: int, data_dir: str, as_json: bool) -> None:
    """List notifications, newest first (--status to pick one kind)."""
    rows = _store(data_dir).list(status, limit)
    if as_json:
        click.echo(json.dumps([n.as_dict() for n in rows], indent=2))
        return
    if not rows:
        click.echo("no notifications" + (f" with status {status}" if status else ""))
    for n in rows:
        click.echo(escape_controls(  # last_detail: a receiver's answer, or a stage's reason quoting payload text
            f"{n.id}  {n.status:<7}  attempts {n.attempts:<2}  {n.role} via {n.channel}  (route {n.route})  "
            f"updated {_when(n.updated_at)}" + (f"  {n.last_detail}" if n.last_detail else "")))


def _find_notification(store, given: str):
    """The notification whose id is `given`, or the only one whose id starts with it (a trailing "…" as
    copied from the README is dropped); exits 1 naming a few candidates when the prefix is ambiguous."""
    wanted = given.strip().removesuffix("…").removesuffix("...").lower()
    n = store.get(wanted) if wanted else None
    if n is not None:
        return n
    found = [c for c in store.list(None, 2**62) if c.id.startswith(wanted)] if wanted else []
    if len(found) == 1:
        return found[0]
    if not found:
        click.echo(f"error: no notification {given}" + (" (nor one whose id starts with it)" if wanted else "")
                   + "; see `alertrouter outbox list`", err=True)
        sys.exit(1)
    shown = 5
    click.echo(f"error: {given} is the start of {len(found)} notification ids; give more of the id:", err=True)
    for c in found[:shown]:
        click.echo(escape_controls(f"  {c.id}  {c.status:<7}  {c.role} via {c.channel}  created {_when(c.created_at)}"),
                   err=True)
    if len(found) > shown:
        click.echo(f"  … and {len(found) - shown} more (newest shown)", err=True)
    sys.exit(1)


@outbox.command("show")
@click.argument("notification_id")
@click.option("--data-dir", default=".data", show_default=True)
def outbox_show(notification_id: str, data_dir: str) -> None:
    """One notification and its history of attempts; NOTIFICATION_ID may be a unique prefix (n_01ce)."""
    store = _store(data_dir)
    n = _find_notification(store, notification_id)
    event = store.get_event(n.event_id)
    click.echo(f"{n.id}: {n.status}, {n.attempts} attempt(s)")
    click.echo(f"  event   {escape_controls(n.event_id)}"
               + (f"\n          {escape_controls(f'{event.kind} [{event.severity.value}] {event.title}')}"
                  if event else " (no longer stored)"))
    click.echo(escape_controls(f"  target  route {n.route}, role {n.role}, channel {n.channel}"
                               + (f" (instead of {n.fallback_from})" if n.fallback_from else "")))
    click.echo(f"  created {_when(n.created_at)}, updated {_when(n.updated_at)}"
               + (f", next attempt {_when(n.next_attempt_at)}" if n.status == "pending" else ""))
    for a in store.history(n.id):
        after = f" (Retry-After {a.retry_after:g} s)" if a.retry_after else ""
        # the detail quotes the receiver's answer
        click.echo(escape_controls(f"  {_when(a.at)}  #{a.number}  {a.status:<9} {a.detail}{after}"))


@outbox.command("retry")
@click.argument("ids", nargs=-1)
@click.option("--all-dead", is_flag=True, help="re-drive every dead notification")
@click.option("--data-dir", default=".data", show_default=True)
def outbox_retry(ids: tuple[str, ...], all_dead: bool, data_dir: str) -> None:
    """Make dead (or sent) notifications pending again, due now, with a fresh attempt budget."""
    import time as _time

    if bool(ids) == all_dead:
        click.echo("error: give notification ids or --all-dead (not both)", err=True)
        sys.exit(2)
    done = _store(data_dir).redrive(None if all_dead else list(ids), _time.time())
    missing = sorted(set(ids) - set(done))
    click.echo(f"re-driven: {len(done)}" + "".join(f"\n  {i}" for i in done))
    if missing:
        click.echo("not re-driven (unknown, or already pending): " + ", ".join(missing), err=True)
        sys.exit(1)


@outbox.command("purge")
@click.option("--older-than", "older_than", required=True, help="age like 30d, 12h")
@click.option("--data-dir", default=".data", show_default=True)
def outbox_purge(older_than: str, data_dir: str) -> None:
    """Delete sent and dead notifications (and their history) older than the given age."""
    import time as _time

    removed = _store(data_dir).purge(_time.time() - _duration(older_than))
    click.echo(f"purged {removed} notification(s) older than {older_than}")


main.add_command(_digest)
main.add_command(_demo)
main.add_command(_replay)
main.add_command(_noise)
