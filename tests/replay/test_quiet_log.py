"""A replay simulates intake, notices and run checks; none of it reaches the log. The console's
what-if runs inside the server, whose log an operator reads (and may alert on): a simulated "event
taken in" there would read as a real one. Only the simulating thread is quieted."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from alertrouter.app import App
from alertrouter.logs import NotSimulated, simulated
from alertrouter.replay import engine
from tests.replay.configs import config
from tests.replay.month import START


def test_a_replay_logs_nothing_of_what_it_simulates(recorded_sqlite, tmp_path, caplog):
    end = START + timedelta(days=10)
    sources = engine.source_events(recorded_sqlite, START, end)
    assert len(sources) > 200
    with caplog.at_level(logging.DEBUG, logger="alertrouter"):
        scratch = engine.simulate(config(), sources, recorded_sqlite, START, end)
    made = sum(scratch.counts()[status] for status in ("pending", "held"))
    scratch.close()
    assert made > 50  # the simulation did take them in and notify
    assert [r.getMessage() for r in caplog.records if r.name.startswith("alertrouter")] == []

    # nothing is left on the loggers, and outside a simulation everything is logged
    assert not any(isinstance(f, NotSimulated) for f in logging.getLogger("alertrouter.app").filters)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="alertrouter"):
        App(config(), tmp_path, store=None).ingest(sources[:3])
    assert sum("event taken in" in r.getMessage() for r in caplog.records) == 3


def test_only_the_simulating_thread_is_quiet(caplog):
    log = logging.getLogger("alertrouter.replay.test")
    seen = []
    with caplog.at_level(logging.INFO, logger="alertrouter"):
        with simulated():
            log.info("simulated intake")
            other = threading.Thread(target=lambda: log.info("a request served meanwhile"))
            other.start()
            other.join()
        log.info("after the simulation")
        seen = [r.getMessage() for r in caplog.records if r.name == log.name]
    assert seen == ["a request served meanwhile", "after the simulation"]


def test_overlapping_simulations_stay_quiet_until_the_last_ends(caplog):
    """Two what-ifs at once (two requests): the first to end must not unquiet the other."""
    log = logging.getLogger("alertrouter.replay.test")
    entered, ended = threading.Event(), threading.Event()

    def other_what_if():
        with simulated():
            entered.set()
            ended.wait(5)
            log.info("the other what-if, still simulating")

    with caplog.at_level(logging.INFO, logger="alertrouter"):
        other = threading.Thread(target=other_what_if)
        other.start()
        entered.wait(5)
        with simulated():
            log.info("this what-if")
        ended.set()
        other.join()
        log.info("both done")
        seen = [r.getMessage() for r in caplog.records if r.name == log.name]
    assert seen == ["both done"]
    assert not any(isinstance(f, NotSimulated) for f in log.filters)
