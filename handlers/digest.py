"""Digests on Functions: a timer every five minutes sends the digests that are due.

The schedule of each digest lives in routing.yaml (NCRONTAB in its own time zone); this timer only
checks often. Each period is recorded put-if-absent before it is sent, so overlapping invocations,
a retried timer or a second instance never send one twice, and a check after downtime catches up
the missed period once (see alertrouter/digest/runner.py).
"""

from __future__ import annotations

import logging
import threading

import azure.functions as func

from alertrouter.digest.runner import DigestRunner

from . import _runtime

log = logging.getLogger("alertrouter.functions")

bp = func.Blueprint()

DIGEST_SCHEDULE = "0 */5 * * * *"

_lock = threading.Lock()
_runner: DigestRunner | None = None


def runner() -> DigestRunner:
    global _runner
    app = _runtime.api().app
    with _lock:
        if _runner is None or _runner.store is not app.store:
            _runner = DigestRunner.from_app(app)
        return _runner


@bp.timer_trigger(arg_name="timer", schedule=DIGEST_SCHEDULE)
def digests(timer: func.TimerRequest) -> None:
    if timer.past_due:
        log.info("digest check is running late")
    runner().run_due()  # logs each outcome (a period not sent for want of data: once, when recorded)
