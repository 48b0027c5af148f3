"""Builds the app, in one place, for each host that runs it:

    FUNCTIONS  the Functions host (handlers/): with the Azure store intake enqueues each notification
               and the queue trigger delivers (a retry is enqueued again for when it is due); with
               this instance's own SQLite file, delivery runs right after intake, in the same call
    SERVER     `alertrouter serve`: intake wakes the dispatcher's loop, in this process or in a
               delivery process of its own (ALERTROUTER_DISPATCH__PROCESS=true)
    DELIVERY   that delivery process: the dispatcher's loop alone, woken through a pipe

Each gets the store the settings name (store.open_store), the dispatcher with the settings' lease,
batch, workers and linger, and the hosts that answer requests the authenticator and the console;
template problems are reported once at start-up (not again by the delivery process).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .app import App
from .http.auth import Authenticator
from .config.load import LoadedConfig, load
from .console import LOOPBACK, Console, build_console
from .delivery.dispatcher import Dispatcher
from .delivery.process import DeliveryProcess, MetricsRelay, ignore_interrupts, run_child
from .logs import setup as setup_logging
from .metrics import Metrics
from .settings import Settings
from .store import open_store
from .rendering.problems import report_at_startup

FUNCTIONS, SERVER, DELIVERY = "functions", "server", "delivery"
CONSOLE_BASE = "/api/console"  # the console under the Functions host (its HTTP trigger's route)


@dataclass
class Built:
    app: App
    dispatcher: Dispatcher | DeliveryProcess
    auth: Authenticator | None = None  # for the hosts that answer requests
    console: Console | None = None


def dispatcher_for(app: App, **options) -> Dispatcher:
    """A dispatcher on `app`'s store, channels and config, rendering and raising events through it;
    `options` are Dispatcher's (lease_seconds, batch, workers, linger, clock, rand, owner)."""
    return Dispatcher(app.store, app.channels, app.loaded, render=app.render, event=app.recent.get, health=app.health,
                      metrics=app.metrics, report=app.ingest, tick=app.tick,
                      next_flush=lambda: app.pipeline.next_flush, **options)


def build(settings: Settings, host: str, *, root: Path | None = None, loaded: LoadedConfig | None = None,
          data_dir: str | Path | None = None, ack_secret: bytes | None = None, public_url: str | None = None,
          auth: Authenticator | None = None, metrics: Metrics | None = None, bind: str = "127.0.0.1",
          console_secret: bytes | None = None) -> Built:
    """The app for `host` (FUNCTIONS, SERVER or DELIVERY). The config and the data dir are the
    settings' (relative paths under `root`, else the working directory) unless given; so are the
    acknowledge-link key and the public URL. SERVER's console opens its reads to a loopback `bind`
    (unless ALERTROUTER_CONSOLE__PRIVATE_READS) and signs its sessions with `console_secret`."""
    base = root or Path.cwd()
    if loaded is None:
        loaded = load(_under(base, settings.config))
    data = Path(data_dir) if data_dir is not None else _under(base, settings.data_dir)
    app = App(loaded, data, settings.templates or None, store=open_store(settings.store, data, settings.azure),
              ack_secret=ack_secret if ack_secret is not None else settings.ack_secret.encode() or None,
              public_url=public_url or settings.public_url, metrics=metrics)
    if host != DELIVERY:  # every template compiled now: a problem is logged (FILE:LINE) and the app starts;
        report_at_startup(app.loaded, app.renderer)  # a notification that selects it gets the built-in one
    d = settings.dispatch
    options = dict(lease_seconds=d.lease_seconds, batch=d.batch, workers=d.workers, linger=d.linger_ms / 1000)
    if host == SERVER and d.process:
        dispatcher = DeliveryProcess(delivery_main, loaded.path, data, app.pipeline.ack_secret,
                                     app.pipeline.public_url, app.metrics)
    else:
        dispatcher = dispatcher_for(app, **options)
    if host == DELIVERY:
        return Built(app, dispatcher)
    if host == SERVER:
        app.listeners.append(dispatcher.wake)
        private = settings.console.private_reads
        auth = auth or Authenticator.from_settings(settings)
        console = build_console(app, auth, settings=settings, open_reads=bind in LOOPBACK and not private,
                                secret=console_secret)
        return Built(app, dispatcher, auth, console)
    _deliver_on_functions(app, dispatcher, settings.store)
    # The Functions host checks function keys itself (auth level FUNCTION); here only the Entra token
    # (Action Group secure webhooks) and the Event Grid allow-lists apply.
    full = auth or Authenticator.from_settings(settings)
    auth = Authenticator(entra=full.entra, sources=full.sources)
    # Reads and changes need an identity: Easy Auth's principal or an Entra bearer token; never open.
    console = build_console(app, auth, settings=settings, base=CONSOLE_BASE, allow_open=False)
    return Built(app, dispatcher, auth, console)


def _deliver_on_functions(app: App, dispatcher: Dispatcher, store_kind: str) -> None:
    if store_kind == "azure":  # shared store: intake enqueues, the queue trigger delivers, retries re-enqueue
        store = app.store
        app.listeners.append(lambda notifications: store.enqueue([n.id for n in notifications]))
        dispatcher.on_retry_scheduled = lambda n, delay: store.enqueue([n.id], delay)
    else:  # this instance's own SQLite file: deliver right after intake, in the same invocation
        app.listeners.append(lambda notifications: dispatcher.run_once([n.id for n in notifications]))


def delivery_main(config: str, data_dir: str, ack_secret: bytes | None, public_url: str, wake, metrics_conn) -> None:
    """The delivery process (spawned by DeliveryProcess): the server's app on the same store, its
    metric updates relayed to the server, and the dispatcher's loop woken by the pipe."""
    ignore_interrupts()
    settings = Settings()
    setup_logging(settings.log_format)
    relay = MetricsRelay(metrics_conn)
    built = build(settings, DELIVERY, loaded=load(config), data_dir=data_dir, ack_secret=ack_secret,
                  public_url=public_url, metrics=relay)
    run_child(built.dispatcher, built.app.store, wake, relay)


def _under(base: Path, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else base / p
