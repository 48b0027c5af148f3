"""One App (and its dispatcher) per worker process, built lazily on the first invocation, so that
indexing stays offline and cheap.

With the embedded SQLite store a Functions instance delivers right after intake, in the same
invocation; with the Azure store, intake enqueues and the queue trigger delivers (see
alertrouter/build.py, which builds it).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from alertrouter.build import FUNCTIONS, build
from alertrouter.delivery.dispatcher import Dispatcher
from alertrouter.http.api import HttpApi
from alertrouter.logs import ids_in_messages
from alertrouter.settings import Settings

_lock = threading.Lock()
_api: HttpApi | None = None
_dispatcher: Dispatcher | None = None
_console = None
ROOT = Path(__file__).resolve().parent.parent

def _build() -> None:
    global _api, _dispatcher, _console
    if os.environ.get("FUNCTIONS_WORKER_RUNTIME"):  # under the Functions host, whose logs ship the message
        ids_in_messages()                           # text to Application Insights: the ids go into it
    settings = Settings()
    built = build(settings, FUNCTIONS, root=ROOT)
    _api, _dispatcher, _console = HttpApi(built.app, settings.max_body_bytes, built.auth), built.dispatcher, \
        built.console

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
