"""One App per worker process, built lazily on the first invocation (indexing stays offline)."""

from __future__ import annotations

import threading
from pathlib import Path

from alertrouter.app import App
from alertrouter.http_api import HttpApi
from alertrouter.settings import Settings

_lock = threading.Lock()
_api: HttpApi | None = None
ROOT = Path(__file__).resolve().parent.parent


def api() -> HttpApi:
    global _api
    if _api is None:
        with _lock:
            if _api is None:
                settings = Settings()
                _api = HttpApi(App.from_settings(settings, ROOT), settings.max_body_bytes)
    return _api


def reset() -> None:
    """Forget the cached App (tests that change settings)."""
    global _api
    with _lock:
        _api = None
