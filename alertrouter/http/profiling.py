"""cProfile over every thread of the local server, switched on by an environment variable.

    ALERTROUTER_PROFILE=out.pstats alertrouter serve ...

profiles the event loop (intake) and every thread started after it (the dispatcher and its
senders, Starlette's worker threads) and writes one pstats file when the server stops (SIGTERM or
Ctrl-C). Read it with `python -m pstats out.pstats` (sort tottime, stats 30). Profiling slows the
server several times over: take figures from a run without it.
"""

from __future__ import annotations

import contextlib
import cProfile
import logging
import os
import pstats
import signal
import threading
from pathlib import Path
from typing import Iterator

log = logging.getLogger("alertrouter.server")
ENV = "ALERTROUTER_PROFILE"


@contextlib.contextmanager
def profiled() -> Iterator[None]:
    """Profile every thread while the block runs when ALERTROUTER_PROFILE names a file; else nothing."""
    out = os.environ.get(ENV, "").strip()
    if not out:
        yield
        return
    path = Path(out)
    if not path.parent.is_dir():
        raise SystemExit(f"{ENV}={out}: the folder {path.parent} does not exist; name a file in an existing folder")
    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def start_in_thread(*_):  # the first call in a new thread swaps itself for that thread's profiler
        prof = cProfile.Profile()
        with lock:
            profiles.append(prof)
        prof.enable()

    # uvicorn re-raises the SIGTERM it shut down on once it is done: as an exception, not a kill,
    # so that the profile below is still written
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    main = cProfile.Profile()
    profiles.append(main)
    threading.setprofile(start_in_thread)
    main.enable()
    try:
        yield
    finally:
        main.disable()
        threading.setprofile(None)
        with lock:
            taken = list(profiles)
        stats = pstats.Stats(taken[0])
        for prof in taken[1:]:
            with contextlib.suppress(TypeError):  # a thread that never returned from its first call
                stats.add(prof)
        stats.dump_stats(path)
        log.info("profile of %d threads written to %s", len(taken), path)


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)
