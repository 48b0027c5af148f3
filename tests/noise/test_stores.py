"""The noise report reads both stores alike: on SQLite and on the Azure store (Azurite), the month's
hard days give the flapping the plan says, and each stage's share is what replay counts on that store."""

from __future__ import annotations

import pytest

from alertrouter.noise import build
from alertrouter.replay import replay
from tests.replay.configs import BASE, config
from tests.replay.conftest import azurite, record, store  # noqa: F401  (each store in turn)
from tests.noise.test_findings import _flaps
from tests.replay.month import END, START, hard_days
from tests.store.conftest import azure_settings, azure_store, memory_store, sqlite_store  # noqa: F401


@pytest.mark.timeout(600)  # Azurite answers each request in 10-20 ms
def test_the_report_reads_each_store_alike(store, the_month, tmp_path):  # noqa: F811
    days = hard_days(the_month)
    record(store, days, tmp_path)
    report = build(config(), store, START, END, text=BASE)
    figures = replay(config(), store, START, END).recorded
    assert {s: v["notices"] for s, v in report.held.items() if v["notices"] and s != "reached"} == dict(figures.held)
    assert report.held["reached"]["notices"] == sum(figures.per_role_channel_day.values())
    # the hard days hold the flapping disk's maintenance morning: it flapped, and resolved quickly
    [flapping] = report.flapping
    assert (flapping.rule, flapping.resource, flapping.flaps) == ("disk-latency", "vm-data-1",
                                                                  len(_flaps(days, "disk-latency", 1800.0)))
    assert report.source_events == len(days.events)
    assert report.held["group"]["notices"] > 0 and report.held["silence"]["notices"] > 0
