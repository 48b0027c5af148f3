"""For the local server: a background thread that checks for due digests (the Functions app uses the
timer trigger in handlers/digest.py instead)."""

from __future__ import annotations

import logging
import threading

from .runner import DigestRunner

log = logging.getLogger("alertrouter.digest")


class DigestScheduler:
    """For the local server: checks for due digests every `interval` seconds on a background thread
    (the Functions app uses the timer trigger in handlers/digest.py instead)."""

    def __init__(self, runner: DigestRunner, interval: float = 60.0):
        self.runner = runner
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.runner.digests or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="digests", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.runner.run_due()
            except Exception:
                log.exception("digest check failed; trying again in %.0f s", self.interval)
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
