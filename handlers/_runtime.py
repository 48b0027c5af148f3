"""One App (and its dispatcher) per worker process, built lazily on the first invocation, so that
indexing stays offline and cheap.

With the embedded SQLite store a Functions instance delivers right after intake, in the same
invocation; with the Azure store, intake enqueues and the queue trigger delivers.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from alertrouter.app import App
from alertrouter.auth import Authenticator
from alertrouter.dispatcher import Dispatcher
from alertrouter.http_api import HttpApi
from alertrouter.logs import ids_in_messages
from alertrouter.settings import Settings
from alertrouter.template_problems import report_at_startup

_lock = threading.Lock()
_api: HttpApi | None = None
_dispatcher: Dispatcher | None = None
_console = None
CONSOLE_BASE = "/api/console"
ROOT = Path(__file__).resolve().parent.parent


def _build() -> None:
    global _api, _dispatcher, _console
    if os.environ.get("FUNCTIONS_WORKER_RUNTIME"):  # under the Functions host, whose logs ship the message
        ids_in_messages()                           # text to Application Insights: the ids go into it
    settings = Settings()
    store = None
    if settings.store == "azure":
        from alertrouter.store.azure import AzureStore

        store = AzureStore.from_settings(settings.azure)
    app = App.from_settings(settings, ROOT, store=store)
    # every template compiled now: a problem is logged (FILE:LINE) and the app starts; notifications
    # that select a broken template are sent with the built-in one
    report_at_startup(app.loaded, app.renderer)
    d = settings.dispatch
    dispatcher = Dispatcher(app, lease_seconds=d.lease_seconds, batch=d.batch, workers=d.workers)
    if store is not None:  # shared store: intake enqueues, the queue trigger delivers, retries re-enqueue
        app.listeners.append(lambda notifications: store.enqueue([n.id for n in notifications]))
        dispatcher.on_retry_scheduled = lambda n, delay: store.enqueue([n.id], delay)
    else:  # this instance's own SQLite file: deliver right after intake, in the same invocation
        app.listeners.append(lambda notifications: dispatcher.run_once([n.id for n in notifications]))
    # The Functions host checks function keys itself (auth level FUNCTION); here only the Entra token
    # (Action Group secure webhooks) and the Event Grid allow-lists apply.
    auth = Authenticator.from_settings(settings)
    _api, _dispatcher = HttpApi(app, settings.max_body_bytes, Authenticator(entra=auth.entra, sources=auth.sources)), \
        dispatcher
    from alertrouter.console import build_console

    # Reads and changes need an identity: Easy Auth's principal or an Entra bearer token; never open.
    _console = build_console(app, _api.auth, settings=settings, base=CONSOLE_BASE, allow_open=False)


def api() -> HttpApi:
    if _api is None:
        with _lock:
            if _api is None:
                _build()
    return _api


def console():
    """The operator console (alertrouter.console.Console) of this worker."""
    api()
    return _console


def dispatcher() -> Dispatcher:
    api()
    return _dispatcher


def reset() -> None:
    """Forget the cached App (tests that change settings)."""
    global _api, _dispatcher, _console
    with _lock:
        if _dispatcher is not None:
            _dispatcher.stop(5)
        _api, _dispatcher, _console = None, None, None
        ids_in_messages(on=False)
