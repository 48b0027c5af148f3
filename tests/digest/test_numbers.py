"""A generated fortnight in a real store → the digest's figures, checked against the plan."""

from __future__ import annotations

import pytest

from alertrouter.digest import collect, period_ending
from alertrouter.digest.aggregate import SEVERITIES

from .conftest import BERLIN, NEXT_WEEK, PREV_WEEK, WEEK
from .expected import expected

METRICS = ["accuracy", "auc"]


@pytest.fixture
def data(store):
    return collect(store, "weekly-summary", period_ending(NEXT_WEEK.date(), 7, BERLIN), metrics=METRICS)


@pytest.mark.parametrize("which", ["current", "previous"])
def test_figures_match_an_independent_computation(data, world, which):
    start, end = (WEEK, NEXT_WEEK) if which == "current" else (PREV_WEEK, WEEK)
    want = expected(world, start, end)
    f = getattr(data, which)
    assert (f.period.start, f.period.end) == (start, end)

    # the world is not trivial: every figure has something to count
    assert want["ended"] > 20 and want["failed"] and want["resolved"] > 5 and want["open"] and want["drift"]

    runs = f.runs
    assert {k: runs[k] for k in ("ended", "succeeded", "failed", "canceled", "started")} == \
        {k: want[k] for k in ("ended", "succeeded", "failed", "canceled", "started")}
    assert runs["success_rate"] == pytest.approx(want["success_rate"])
    assert runs["median_duration"] == pytest.approx(want["median_duration"])
    assert runs["p90_duration"] == pytest.approx(want["p90_duration"])
    assert [(x["experiment"], x["failed"], x["runs"]) for x in f.experiments] == want["failing"]
    assert f.runs_per_day == want["runs_per_day"]

    assert sorted((m["model"], m["version"]) for m in f.models_registered) == want["registered"]
    assert sorted((m["service"], m["models"]) for m in f.models_deployed) == want["deployed"]
    assert {m["monitor"]: (m["detections"], m["max_coefficient"], m["last_coefficient"]) for m in f.drift} == \
        want["drift"]

    assert f.alerts["fired"] == want["fired"]
    assert f.alerts["by_severity"] == {s: want["by_severity"].get(s, 0) for s in SEVERITIES}
    assert {d: {s: n for s, n in v.items() if n} for d, v in f.alerts_per_day.items()} == want["alerts_per_day"]
    assert [(r["rule"], r["fired"]) for r in f.top_rules] == want["top_rules"]
    assert f.resolution["resolved"] == want["resolved"]
    assert f.resolution["median"] == pytest.approx(want["ttr_median"])
    assert f.resolution["p90"] == pytest.approx(want["ttr_p90"])
    assert f.resolution["open"] == want["open"]

    assert {(b["budget"], b["threshold_type"]): (b["amount"], b["threshold"], b["alerts"]) for b in f.cost} == \
        want["budgets"]
    assert f.alerts["cost"] == want["budget_alerts"]

    got_metrics = {x: {m: [v for _, v in vals] for m, vals in ms.items()} for x, ms in f.metrics.items()}
    assert got_metrics == want["metrics"]


def test_headline_and_week_over_week(data, world):
    from alertrouter.digest import view

    cur, prev = expected(world, WEEK, NEXT_WEEK), expected(world, PREV_WEEK, WEEK)
    v = view(data, role="business-analyst", visibility="full")
    h = {x["key"]: x for x in v["headline"]}
    assert (h["runs"]["raw"], h["runs"]["raw_previous"]) == (cur["ended"], prev["ended"])
    delta = cur["ended"] - prev["ended"]
    assert h["runs"]["change"].startswith(f"{delta:+d}")
    assert h["runs"]["arrow"] == ("▲" if delta > 0 else "▼" if delta < 0 else "")
    assert (h["failed"]["raw"], h["failed"]["raw_previous"]) == (cur["failed"], prev["failed"])
    assert h["success_rate"]["value"] == f"{cur['success_rate'] * 100:.0f}%"
    pp = (cur["success_rate"] - prev["success_rate"]) * 100
    assert h["success_rate"]["change"] == f"{pp:+.0f} pp"
    assert h["success_rate"]["tone"] == ("good" if pp > 0 else "bad" if pp < 0 else "neutral")
    assert (h["alerts"]["raw"], h["alerts"]["raw_previous"]) == (cur["fired"], prev["fired"])
    assert h["alerts"]["tone"] == ("bad" if cur["fired"] > prev["fired"] else
                                   "good" if cur["fired"] < prev["fired"] else "neutral")
    assert h["ttr"]["raw"] == pytest.approx(cur["ttr_median"])
    assert (h["registered"]["raw"], h["deployed"]["raw"]) == (len(cur["registered"]), len(cur["deployed"]))
    assert h["drift"]["raw"] == sum(n for n, _, _ in cur["drift"].values())
    assert h["budget_alerts"]["raw"] == cur["budget_alerts"]

    # run metrics per experiment: mean this week and last week, and the trend between them
    rows = {(m["experiment"], m["metric"]): m for m in v["metrics"]}
    assert set(rows) == {(x, k) for x, ms in cur["metrics"].items() for k in ms}
    for (x, k), row in rows.items():
        now_vals, before = cur["metrics"][x][k], prev["metrics"].get(x, {}).get(k)
        assert row["runs"] == len(now_vals)
        assert float(row["mean"]) == pytest.approx(sum(now_vals) / len(now_vals), rel=1e-3)
        assert float(row["latest"]) == pytest.approx(now_vals[-1], rel=1e-3)
        if before:
            assert float(row["change"]) == pytest.approx(sum(now_vals) / len(now_vals) - sum(before) / len(before),
                                                         rel=1e-3, abs=1e-4)
