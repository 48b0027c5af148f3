"""A replay pauses the cyclic garbage collector while it reads and compares (the phases that make
hundreds of thousands of records), and leaves it as it found it: on in a server after every what-if,
also when two overlap, and off when the caller had turned it off."""

from __future__ import annotations

import gc
import threading
from datetime import timedelta

from alertrouter.replay import replay
from alertrouter.replay.engine import collection_paused
from tests.replay.configs import config
from tests.replay.month import START


def test_a_replay_leaves_the_collector_on(recorded_sqlite):
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
    report = replay(config(), recorded_sqlite, START, START + timedelta(days=2))
    assert report.events > 0 and not report.changed
    assert gc.isenabled()


def test_a_caller_that_turned_it_off_keeps_it_off():
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_replays_leave_it_on_whichever_ends_first():
    for first_to_end in ("ours", "theirs"):
        inside, release = threading.Event(), threading.Event()

        def other():
            with collection_paused():
                inside.set()
                release.wait(5)

        t = threading.Thread(target=other)
        if first_to_end == "ours":
            t.start()
            inside.wait(5)
            with collection_paused():
                pass
            release.set()
            t.join()
        else:
            with collection_paused():
                t.start()
                inside.wait(5)
                release.set()
                t.join()
        assert gc.isenabled(), first_to_end


def test_a_replay_says_how_far_it_is(recorded_sqlite, monkeypatch):
    """What the command prints on a terminal while a long replay runs: the read, every
    PROGRESS_EVERY events simulated, then the comparison."""
    from alertrouter.replay import engine

    monkeypatch.setattr(engine, "PROGRESS_EVERY", 100)
    said: list[str] = []
    report = replay(config(), recorded_sqlite, START, START + timedelta(days=10), progress=said.append)
    n = report.events
    assert n > 200
    assert said[0].startswith(f"read {n:,} events and ") and said[0].endswith("recorded notifications; simulating")
    assert said[1:-1] == [f"simulated {i:,} of {n:,} events" for i in range(100, n + 1, 100)]
    assert said[-1] == "comparing"
