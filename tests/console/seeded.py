"""The console over a store that holds tests/replay's seeded month, recorded through the real App
(tests/replay/conftest.py `record`), with the app's clock at the month's end, so the routing page's
what-if replays the month's last 7 days. The local server runs without a dispatcher: the store
stays exactly as recorded (a dispatcher would be sending the month's notices meanwhile), which is
what the tests compare against to show that a what-if writes nothing."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from pathlib import Path

import pytest
import requests
import uvicorn

from alertrouter.app import App
from alertrouter.console import build_console
from alertrouter.http.server import create_app
from alertrouter.replay.engine import Clock
from alertrouter.store.sqlite import SqliteStore
from tests.conftest import free_port
from tests.console.conftest import csrf_of
from tests.replay.configs import BASE, CHANGES, config
from tests.replay.conftest import record
from tests.replay.month import END, month

DROP_QA = BASE.replace(*CHANGES["drop-qa"], 1)


class QuietServer:
    """The local server (`create_app`) on a loopback port without a dispatcher."""

    def __init__(self, app: App, console=None, auth=None):
        self.app = app
        self.console = console or build_console(app, auth)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = uvicorn.Config(create_app(app, None, auth=auth, console=self.console), host="127.0.0.1", port=self.port,
                             log_level="warning", http="httptools", lifespan="on")
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "QuietServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("local server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture(scope="session")
def seeded_month():
    return month()


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory, seeded_month):
    path = tmp_path_factory.mktemp("whatif") / "alertrouter.db"
    store = SqliteStore(path)
    record(store, seeded_month, path.parent)
    yield store
    store.close()


@pytest.fixture
def seeded_server(seeded_store, tmp_path):
    app = App(config(), tmp_path / "data", store=seeded_store, clock=Clock(END.timestamp()))
    with QuietServer(app) as s:
        yield s


def whatif_form(session: requests.Session, server, text: str = "", upload: tuple[str, bytes] | None = None,
                csrf: str | None = None) -> requests.Response:
    """Post the routing page's what-if form as a browser does (multipart, with the page's token)."""
    if csrf is None:
        csrf = csrf_of(session.get(server.url + "/routing", timeout=10).text)
    files = {"upload": upload or ("", b"", "application/octet-stream")}
    return session.post(server.url + "/routing/whatif", data={"csrf": csrf, "config": text}, files=files, timeout=60)


def problems_on(html: str) -> list[str]:
    """The problems the page lists, as text."""
    import html as html_lib

    found = re.search(r'<ul class="problems">(.*?)</ul>', html, re.S)
    return [html_lib.unescape(p) for p in re.findall(r"<li><code>(.*?)</code></li>", found.group(1), re.S)] if found else []


def store_snapshot(store) -> tuple:
    """Everything a what-if could have written to the store: events, notifications, state."""
    from datetime import datetime, timezone

    events = [(e.id, e.kind) for e in store.events_between(datetime(2000, 1, 1, tzinfo=timezone.utc),
                                                           datetime(2100, 1, 1, tzinfo=timezone.utc))]
    made = sorted(tuple(n.as_dict().items()) for n in store.made_between(0, 4e9))
    from alertrouter.pipeline import silences

    return events, made, store.counts(), sorted(k for k, _, _ in store.state_list(silences.KIND))


def files_under(root: Path) -> dict[str, str]:
    """Every file under `root`, by path, with a hash of its content (SQLite's shared-memory index
    changes when it is only read: its name is kept, not its content)."""
    return {str(p.relative_to(root)): "" if p.name.endswith("-shm") else hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}
