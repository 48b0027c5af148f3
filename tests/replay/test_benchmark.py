"""benchmarks/replay.py keeps working (a few hundred events, no timing asserted): the copies of the
month it replays under the config they were recorded under change nothing."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_the_replay_benchmark_runs_and_changes_nothing():
    out = subprocess.run([sys.executable, "benchmarks/replay.py", "--events", "1200", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=110)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["events"] == 1200 and result["changed_events"] == 0
    assert result["events_per_s"] > 0 and result["total_s"] > 0
