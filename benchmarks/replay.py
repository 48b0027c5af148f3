"""`alertrouter replay` at scale: 100,000 stored events replayed under the config they were recorded
under, on the SQLite store. Prints the events per second and the total time (target: under a
minute), how that time splits between reading the period, the simulation and the comparison, and
the process's CPU time per event (time.process_time: what the replay itself costs, whatever else
the machine is doing).

    python benchmarks/replay.py [--events 100000] [--json]

The events are the seeded synthetic month of the tests (tests/replay/month.py: Azure ML runs with a
nightly retrain, alert storms, flapping alerts, budget alerts, from the real payload fixtures; its
alerts that never resolve left out), repeated with new ids, each copy a week after the one before,
until there are `--events`. They are
stored as `serve` would have stored them (the router's own notices too): recorded by a first
simulation onto the store's file, which is not timed. Then the replay is timed, as the command runs
it: read the period's source events and recorded notifications, simulate them on a scratch store,
compare with the record.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alertrouter.app import App  # noqa: E402
from alertrouter.replay import engine, read_period  # noqa: E402
from alertrouter.replay.compare import Report, compare  # noqa: E402
from alertrouter.replay.outcomes import Reader  # noqa: E402
from alertrouter.store.sqlite import SqliteStore  # noqa: E402
from tests.replay.configs import config  # noqa: E402
from tests.replay.month import START, month  # noqa: E402

WEEK = timedelta(days=7)


def events(n: int) -> list:
    """`n` events: copies of the seeded month, each a week after the one before, with new ids. The
    alerts the month leaves firing are left out, so that the copies' groups do not pile up members
    over years of copies that never resolve."""
    m = month().events
    resolved = {e.fingerprint for e in m if e.kind == "alert.resolved"}
    base = [e for e in m if e.kind != "alert.fired" or e.fingerprint in resolved]
    out, k = [], 0
    while len(out) < n:
        shift = k * WEEK
        out += [e.model_copy(update={"id": f"{e.id}#{k}", "fingerprint": f"{e.fingerprint}#{k}",
                                     "time": e.time + shift}) for e in base]
        k += 1
    return sorted(out[:n], key=lambda e: (e.time, e.id))


def record(store, loaded, evs, data_dir) -> None:
    clock = engine.Clock()
    driver = engine.EventTimeDriver(App(loaded, data_dir, store=store, clock=clock), clock)
    with store.transaction():
        for e in evs:
            driver.feed(e)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    loaded = config()
    evs = events(args.events)
    start, end = START, evs[-1].time + timedelta(seconds=1)
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        store = SqliteStore(Path(tmp) / "alertrouter.db")
        t0 = time.perf_counter()
        record(store, loaded, evs, tmp)
        recorded_s = time.perf_counter() - t0
        # the command starts with none of them in memory: a heap holding 100,000 events with their
        # payloads would make every collection of the replay's own objects walk them too
        del evs
        gc.collect()
        # and opens the data dir afresh: closing folds the recording's write-ahead log (the whole
        # recording, one transaction) into the database, as a server's checkpoints do as it goes
        store.close()
        store = SqliteStore(Path(tmp) / "alertrouter.db")

        t0, c0 = time.perf_counter(), time.process_time()
        period = read_period(store, start, end)  # as `replay` reads
        sources, recorded = period.sources, period.made
        t1, c1 = time.perf_counter(), time.process_time()
        scratch = engine.simulate(engine.as_recorded(loaded, recorded)[0], sources, store, start, end)
        t2, c2 = time.perf_counter(), time.process_time()
        with engine.collection_paused():
            report = compare(Report(start, end, "routing.yaml", len(sources)), Reader(loaded),
                             store, scratch, sources, recorded)
        t3, c3 = time.perf_counter(), time.process_time()
        scratch.close()
        store.close()
    n = len(sources)
    result = {"events": n, "total_s": round(t3 - t0, 2), "events_per_s": round(n / (t3 - t0)),
              "read_s": round(t1 - t0, 2), "simulate_s": round(t2 - t1, 2), "compare_s": round(t3 - t2, 2),
              # CPU time of this process (less sensitive to other work on the machine than the wall clock)
              "cpu_s": round(c3 - c0, 2), "cpu_ms_per_event": round((c3 - c0) * 1000 / n, 3),
              "cpu_split_s": {"read": round(c1 - c0, 2), "simulate": round(c2 - c1, 2), "compare": round(c3 - c2, 2)},
              "changed_events": len(report.changed), "recording_s": round(recorded_s, 2)}
    if args.json:
        print(json.dumps(result))
        return
    cpu = result["cpu_split_s"]
    print(f"replayed {n:,} stored events in {result['total_s']} s: {result['events_per_s']:,} events/s "
          f"(reading {result['read_s']} s, simulating {result['simulate_s']} s, comparing {result['compare_s']} s); "
          f"CPU {result['cpu_s']} s, {result['cpu_ms_per_event']} ms per event (reading {cpu['read']} s, "
          f"simulating {cpu['simulate']} s, comparing {cpu['compare']} s); "
          f"{result['changed_events']} changed (the config in force: 0 expected); "
          f"recording them first took {result['recording_s']} s")


if __name__ == "__main__":
    main()
