"""Benchmarks are not tests: this only keeps them working, with a tiny N and no timing asserts."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_throughput_benchmark_runs():
    out = subprocess.run([sys.executable, "benchmarks/throughput.py", "--n", "30", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["workload"], r["n"], r["delivered"]) for r in rows] == [("single", 30, 30), ("burst", 30, 30)]


def test_routing_core_benchmark_runs():
    out = subprocess.run([sys.executable, "benchmarks/routing_core.py", "--n", "20", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [r["routes"] for r in json.loads(out.stdout)] == [10, 100, 1000]


def test_console_events_benchmark_runs():
    out = subprocess.run([sys.executable, "benchmarks/console_events.py", "--events", "300", "--repeat", "2", "--json"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["rows"] for r in rows] == [50, 6, 10, 1, 0, 50]
