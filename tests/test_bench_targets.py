"""`make bench`'s first line ends with the performance issue's targets table: every row, ours, the
null router and Alertmanager side by side, the target and met / NOT met (tiny N, no timing asserts)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def bench(*args: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "benchmarks/throughput.py", "--n", "30", "--workload", "all",
                          "--connections", "1,8", "--scaling", "40,60", "--rss-n", "50", "--timeout", "30", *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr
    return out


ROWS = ["single x1, delivered/s (N=30)", "single x8, delivered/s (N=30)",
        "burst (Event Grid x100), delivered/s (N=30)", "burst p99 intake to delivery, ms (N=30)",
        "storm, shipped routing.yaml, events in/s (N=40)", "storm, shipped routing.yaml, events in/s (N=60)",
        "storm flat: ours' CPU ms per alert, N=60 / N=40", "peak RSS MB, burst N=50"]


@pytest.mark.timeout(400)
@pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager is not installed")
def test_every_row_of_the_targets_table_with_the_null_router_and_alertmanager_beside_ours():
    text = bench("--target", "all").stdout
    head, _, table = text.partition("the issue's targets, this run (")
    assert table, text[-2000:]
    lines = table.splitlines()[3:]  # the title's end, the column names, the rule
    assert [line.strip().startswith(row) for row, line in zip(ROWS, lines)] == [True] * len(ROWS), table
    for row, line in zip(ROWS, lines):
        assert line.rstrip().endswith((" met", " NOT met")), line  # every row measured and judged
        if row.startswith("storm flat"):  # ours: CPU ms per alert at the first N -> at the last; their ratio
            first, arrow, last, null, am, ours_null, growth = line.strip()[len(row):].split()[:7]
            assert arrow == "->" and float(last) / float(first) == pytest.approx(float(growth), abs=0.02), line
            continue
        ours, null, am, ours_null, ours_am = line.strip()[len(row):].split()[:5]
        assert ours != "-" and am != "-" and float(ours_am) > 0, line
        if row.startswith(("single", "burst")):  # the null router: single and burst (no grouping for storms)
            assert null != "-" and float(ours_null) > 0, line
    assert ">= 0.6x am, >= 0.8x null" in lines[0] and "<= 2x am" in lines[3] and "<= 0.5x am" in lines[7]
    assert "ours / the null router, same run" in head and "ours / Alertmanager, same run" in head


@pytest.mark.timeout(400)
def test_without_alertmanager_the_rows_say_not_measured_instead_of_judging():
    out = bench("--target", "all", "--alertmanager", "/nonexistent/alertmanager", "--json")
    table = {r["workload"]: r for r in json.loads(out.stdout.strip().splitlines()[-1])}
    assert list(table) == ROWS
    assert table["single x1, delivered/s (N=30)"]["met"] == "not measured"
    assert table["single x1, delivered/s (N=30)"]["null"] != "-"
    assert table["storm flat: ours' CPU ms per alert, N=60 / N=40"]["met"] in ("met", "NOT met")


def judge(ours_single: float, ours_burst_p99: float, flat_cpu: float) -> dict[str, str]:
    """The table for figures made up for the judgment alone: Alertmanager 1,000/s and p99 100 ms,
    the null router 1,000/s, the storm's CPU per alert 1.0 ms at the first N."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from targets import targets

    rows = []
    for target, per_s in (("ours", ours_single), ("null", 1000.0), ("alertmanager", 1000.0)):
        rows += [{"target": target, "workload": "single", "connections": c, "n": 2000, "delivered_per_s": per_s}
                 for c in (1, 8)]
        rows.append({"target": target, "workload": "burst", "connections": 1, "n": 2000, "delivered_per_s": per_s,
                     "p99_ms": ours_burst_p99 if target == "ours" else 100.0})
        if target != "null":
            rows.append({"target": target, "workload": "burst", "connections": 1, "n": 10000, "purpose": "rss",
                         "peak_rss_mb": 40.0 if target == "ours" else 100.0})
    scaling = [{"target": t, "n": n, "events_in_per_s": 500.0, "peak_rss_mb": 50.0,
                "cpu_ms_per_alert": (flat_cpu if n == 20000 else 1.0) if t == "ours" else 0.2}
               for t in ("ours", "alertmanager") for n in (2000, 20000)]
    return {r["workload"]: r["met"] for r in targets(rows, scaling)}


def test_the_judgment_of_each_row_follows_the_issues_bounds():
    met = judge(ours_single=800, ours_burst_p99=200, flat_cpu=1.2)  # 0.8x null, 0.8x am, p99 2x, CPU 1.2x
    assert met == {"single x1, delivered/s (N=2000)": "met", "single x8, delivered/s (N=2000)": "met",
                   "burst (Event Grid x100), delivered/s (N=2000)": "NOT met",  # 0.8x, not >= 1.0x
                   "burst p99 intake to delivery, ms (N=2000)": "met",
                   "storm, shipped routing.yaml, events in/s (N=2,000)": "met",
                   "storm, shipped routing.yaml, events in/s (N=20,000)": "met",
                   "storm flat: ours' CPU ms per alert, N=20,000 / N=2,000": "met",
                   "peak RSS MB, burst N=10,000": "met",  # 0.4x
                   "peak RSS MB, storm shipped N=20,000": "NOT met"}  # 1.0x
    met = judge(ours_single=700, ours_burst_p99=201, flat_cpu=1.3)  # under 0.8x null; p99 over 2x; not flat
    assert met["single x1, delivered/s (N=2000)"] == "NOT met"
    assert met["burst p99 intake to delivery, ms (N=2000)"] == "NOT met"
    assert met["storm flat: ours' CPU ms per alert, N=20,000 / N=2,000"] == "NOT met"
