"""Benchmarks are not tests: this only keeps them working, with a tiny N and no timing asserts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

N = 30
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def throughput(*args: str) -> tuple[list[dict], str]:
    out = subprocess.run([sys.executable, "benchmarks/throughput.py", "--n", str(N), "--json", "--timeout", "30",
                          *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), out.stderr


def test_single_workload_one_and_eight_connections():
    rows, _ = throughput("--workload", "single", "--connections", "1,8", "--target", "ours")
    assert [(r["workload"], r["connections"], r["delivered"], r["notifications"]) for r in rows] == [
        ("single", 1, N, N), ("single", 8, N, N)]


def test_burst_workload():
    rows, _ = throughput("--workload", "burst", "--target", "ours")
    assert [(r["workload"], r["delivered"], r["notifications"]) for r in rows] == [("burst", N, N)]


def test_burst_with_delivery_in_a_process_of_its_own():
    [row], _ = throughput("--workload", "burst", "--target", "ours", "--delivery-process")
    assert row["delivered"] == N and row["cpu_ms_per_alert"] > 0  # the child's CPU counted too


def test_storm_workload_notices_account_for_every_alert():
    [row], _ = throughput("--workload", "storm", "--target", "ours")
    assert (row["workload"], row["groups"], row["accounted"]) == ("storm", 1, N)
    assert 1 <= row["notifications"] < N
    assert row["all_accounted"] == "yes"


def test_storm_on_the_shipped_routing_yaml_measures_intake():
    [row], _ = throughput("--workload", "storm", "--target", "ours", "--config", "shipped")
    assert (row["workload"], row["config"], row["n"]) == ("storm", "shipped", N)
    assert row["wall_ms_per_alert"] > 0 and row["intake_cpu_ms_per_alert"] > 0


def test_scaling_run_prints_the_cost_per_alert_and_its_ratio_to_the_first_n():
    out = subprocess.run([sys.executable, "benchmarks/throughput.py", "--scaling", "20,40", "--target", "ours",
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [(r["config"], r["n"]) for r in rows] == [("shipped", 20), ("shipped", 40)]
    assert rows[0]["cpu_ratio"] == rows[0]["wall_ratio"] == 1.0
    assert all(r["cpu_ms_per_alert"] > 0 and r["cpu_ratio"] > 0 for r in rows)


def test_scaling_refuses_a_bad_list_with_what_to_write():
    out = subprocess.run([sys.executable, "benchmarks/throughput.py", "--scaling", "500,lots"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "500,2000,10000,20000" in out.stderr


def test_alertmanager_absent_is_skipped_with_a_line():
    rows, err = throughput("--workload", "single", "--connections", "1", "--target", "both",
                           "--alertmanager", "/nonexistent/alertmanager")
    assert "alertmanager: not installed" in err
    assert [(r["target"], r["delivered"]) for r in rows] == [("ours", N)]


def test_the_null_router_runs_beside_ours_on_single_and_burst():
    """The ceiling of the same work in CPython: every alert posted once, by the same receiver's count;
    no storm (it has no grouping to account for one)."""
    rows, _ = throughput("--workload", "all", "--connections", "1", "--target", "all",
                         "--alertmanager", "/nonexistent/alertmanager")
    assert sorted((r["target"], r["workload"]) for r in rows) == [
        ("null", "burst"), ("null", "single"), ("ours", "burst"), ("ours", "single"), ("ours", "storm")]
    assert all((r["delivered"], r["notifications"]) == (N, N) for r in rows if r["target"] == "null")
    out = subprocess.run([sys.executable, "benchmarks/throughput.py", "--n", str(N), "--workload", "single",
                          "--connections", "1", "--target", "all", "--alertmanager", "/nonexistent/alertmanager"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ours / the null router, same run" in out.stdout


@pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager is not installed")
def test_alertmanager_side_by_side():
    rows, _ = throughput("--target", "alertmanager", "--connections", "1,8")
    got = {(r["workload"], r["connections"]): r for r in rows}
    assert sorted(got) == [("burst", 1), ("single", 1), ("single", 8), ("storm", 1)]
    for key in [("burst", 1), ("single", 1), ("single", 8)]:
        assert got[key]["delivered"] == N
    assert (got["storm", 1]["groups"], got["storm", 1]["accounted"]) == (1, N)


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


def test_profile_self_time_ranks_leaf_frames(tmp_path, monkeypatch):
    import importlib.util

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # throughput.py imports targets.py beside it
    spec = importlib.util.spec_from_file_location("throughput", ROOT / "benchmarks" / "throughput.py")
    throughput_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(throughput_module)
    raw = tmp_path / "raw.txt"
    raw.write_text("main (a.py);f (a.py);g (b.py) 3\nmain (a.py);g (b.py) 1\nmain (a.py);f (a.py) 6\n")
    assert throughput_module.self_time(raw, top=2) == [("f (a.py)", 60.0), ("g (b.py)", 40.0)]


def test_azure_store_on_the_projects_azurite_each_run_on_tables_of_its_own():
    """Without a connection string the benchmark starts the project's Azurite; the second run's
    alerts (the same ids as the first's) are new to its own tables, so they are all delivered."""
    from tests.store.azurite import missing_reason

    if missing_reason(ROOT):
        pytest.skip(missing_reason(ROOT))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTROUTER_AZURE__")}
    out = subprocess.run([sys.executable, "benchmarks/throughput.py", "--n", "20", "--json", "--timeout", "60",
                          "--workload", "single", "--connections", "1,8", "--target", "ours", "--store", "azure"],
                         cwd=ROOT, capture_output=True, text=True, timeout=180, env=env)
    assert out.returncode == 0, out.stderr
    assert [(r["connections"], r["delivered"]) for r in json.loads(out.stdout)] == [(1, 20), (8, 20)]


@pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager is not installed")
def test_the_shipped_storm_runs_against_alertmanagers_equivalent_config():
    """Alertmanager with the shipped routing.yaml's grouping and first inhibit rule, at each N."""
    out = subprocess.run([sys.executable, "benchmarks/throughput.py", "--scaling", "20,40", "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert sorted((r["target"], r["n"]) for r in rows) == [("alertmanager", 20), ("alertmanager", 40),
                                                           ("ours", 20), ("ours", 40)]
    assert all(r["in_per_s_vs_am"] > 0 for r in rows)
