"""The digest's numbers: queries over the store for one period and the one before, and the figures
computed from them. Pure: no rendering, no sending.

Definitions (the tests check these against their own computation):

- A run counts in the period its **end** falls in: its first `run.completed` / `run.failed` /
  `run.canceled` event (a run's events share a fingerprint; a RunStatusChanged(Completed) and the
  RunCompleted that follows it count once, at the first). Succeeded = completed. Success rate =
  succeeded / ended runs. Duration = end − the run's first `run.started` (looked back up to
  LOOKBACK_DAYS).
- Only source events count (what Azure sent): the router's own events in the store (group notices,
  escalations, acknowledgements, budget summaries, channel notices; see sources.py) are left out of
  every figure. Run-watch findings (`run.stuck`, `run.missing`, raised by the router) are not runs nor
  alerts: they are counted on a line of their own (`runs["stuck"]`, `runs["missing"]`: raised in the
  period).
- Alerts: `alert.fired` events that are not cost budgets (`category=cost`; those are in the cost
  section). Time to resolve: each `alert.resolved` in the period is paired with the latest
  `alert.fired` of the same fingerprint at or before it (looked back up to LOOKBACK_DAYS; one
  resolution per firing). Open = fired in the period and not resolved by its end.
- Median is the usual median (mean of the two middle values); p90 is the nearest-rank
  percentile: the ceil(0.9·n)-th smallest value.
- Models registered: distinct model versions (`model.registered`); deployed: each `model.deployed`.
- Drift: `dataset.drift_detected` per monitor (`drift_name`): detections, highest and latest coefficient.
- Cost: budget alerts (`alert.fired` with `category=cost`); per budget and threshold type the latest
  one: spent (forecast for forecasted budgets) against the notification threshold.
- Days are local days in the digest's zone.

Run metrics convention: a run that reports a metric named `accuracy` carries it as a run tag
`accuracy` (label `tag.accuracy`) or a run property `accuracy` (detail `property.accuracy`), a
plain number ("0.934", "12", "1e-3"); the tag wins when both are set. For each experiment and each
name in the digest's `metrics:`, the values of the runs that succeeded in the period give the count,
latest, mean, min, max, and the mean of the period before for the trend.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from ..model import Event, Severity
from .period import Period
from .sources import WATCH_KINDS, is_source, watch_counts
from .storage import events_between

LOOKBACK_DAYS = 30  # how far back a run's start or an alert's firing is looked for
TOP_N = 5

RUN_ENDS = {"run.completed": "succeeded", "run.failed": "failed", "run.canceled": "canceled"}
RUN_STATUSES = ("succeeded", "failed", "canceled")
SEVERITIES = tuple(s.value for s in Severity)
KINDS = ("run.started", *RUN_ENDS, "model.registered", "model.deployed", "dataset.drift_detected",
         "alert.fired", "alert.resolved", *WATCH_KINDS)

_AMOUNT = re.compile(r"-?\d+(?:\.\d+)?")


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: list[float]) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(0.9 * len(s)) - 1)]


def number(text: str | None) -> float | None:
    """A metric value: a plain number, else None."""
    if text is None:
        return None
    try:
        v = float(str(text).strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def amount(text: str | None) -> float | None:
    """A budget amount as Azure writes it ("$11,111.00", "1111.11") as a number."""
    if not text:
        return None
    m = _AMOUNT.search(str(text).replace(",", ""))
    return float(m.group()) if m else None


def is_cost(e: Event) -> bool:
    return e.labels.get("category") == "cost"


@dataclass
class Figures:
    """Everything one period yields."""

    period: Period
    runs: dict[str, Any] = field(default_factory=dict)
    run_ends: list[Event] = field(default_factory=list)
    experiments: list[dict[str, Any]] = field(default_factory=list)
    models_registered: list[dict[str, Any]] = field(default_factory=list)
    models_deployed: list[dict[str, Any]] = field(default_factory=list)
    drift: list[dict[str, Any]] = field(default_factory=list)
    alerts: dict[str, Any] = field(default_factory=dict)
    top_rules: list[dict[str, Any]] = field(default_factory=list)
    resolution: dict[str, Any] = field(default_factory=dict)
    cost: list[dict[str, Any]] = field(default_factory=list)
    runs_per_day: dict[date, dict[str, int]] = field(default_factory=dict)
    alerts_per_day: dict[date, dict[str, int]] = field(default_factory=dict)
    metrics: dict[str, dict[str, list[tuple[datetime, float]]]] = field(default_factory=dict)
    source_events: int = 0  # source events of the digest's kinds in the period (0: a quiet period)


def _metric(e: Event, name: str) -> float | None:
    v = number(e.labels.get(f"tag.{name}"))
    return v if v is not None else number(e.details.get(f"property.{name}"))


def figures(events: list[Event], period: Period, metric_names: list[str], top_n: int = TOP_N) -> Figures:
    """The figures of `period` from `events` (which must reach LOOKBACK_DAYS before it, by time and
    those of the same time in the order taken in, as `events_between` gives them). Events the
    router made itself are left out (run-watch findings only give their own counts)."""
    f = Figures(period)
    watched = watch_counts([e for e in events if e.kind in WATCH_KINDS and period.contains(e.time)])
    events = [e for e in events if is_source(e)]
    inside = [e for e in events if period.contains(e.time)]
    f.source_events = len(inside)
    by_kind: dict[str, list[Event]] = defaultdict(list)
    for e in inside:
        by_kind[e.kind].append(e)

    # --- runs ---
    # a run's end is its earliest end notice, of the same time the first one taken in (events come by
    # time, ties in intake order: Azure ML sends a run's two end notices in the same second, and the
    # router notified the first), so the digest counts the run as the router announced it
    first_end: dict[str, Event] = {}
    for e in events:
        if e.kind in RUN_ENDS and e.time < period.end and (
                e.fingerprint not in first_end or e.time < first_end[e.fingerprint].time):
            first_end[e.fingerprint] = e
    ends = sorted((e for e in first_end.values() if period.contains(e.time)), key=lambda e: e.time)
    f.run_ends = ends
    first_start: dict[str, datetime] = {}
    for e in events:
        if e.kind == "run.started" and e.time < period.end:
            if e.fingerprint not in first_start or e.time < first_start[e.fingerprint]:
                first_start[e.fingerprint] = e.time
    counts = Counter(RUN_ENDS[e.kind] for e in ends)
    durations = [(e.time - first_start[e.fingerprint]).total_seconds() for e in ends
                 if e.fingerprint in first_start and first_start[e.fingerprint] <= e.time]
    n = len(ends)
    f.runs = {
        "ended": n,
        "started": len({e.fingerprint for e in by_kind["run.started"]}),
        **{s: counts.get(s, 0) for s in RUN_STATUSES},
        "success_rate": counts.get("succeeded", 0) / n if n else None,
        "median_duration": median(durations),
        "p90_duration": p90(durations),
        "timed": len(durations),
        **watched,
    }
    f.runs_per_day = {d: {s: 0 for s in RUN_STATUSES} for d in period.days}
    for e in ends:
        f.runs_per_day[period.day_of(e.time)][RUN_ENDS[e.kind]] += 1

    # --- experiments failing most ---
    per_exp: dict[str, dict[str, Any]] = {}
    for e in ends:
        name = e.labels.get("experiment") or "(unnamed)"
        x = per_exp.setdefault(name, {"experiment": name, "runs": 0, "failed": 0, "link": ""})
        x["runs"] += 1
        if e.kind == "run.failed":
            x["failed"] += 1
            x["link"] = next(iter(e.links.values()), "")  # the latest failed run
    failing = [x for x in per_exp.values() if x["failed"]]
    failing.sort(key=lambda x: (-x["failed"], x["experiment"]))
    for x in failing:
        x["failure_rate"] = x["failed"] / x["runs"]
    f.experiments = failing[:top_n]
    f.runs["experiments"] = len(per_exp)
    f.runs["failing_experiments"] = len(failing)

    # --- models ---
    registered: dict[str, Event] = {}
    for e in by_kind["model.registered"]:
        registered.setdefault(e.fingerprint, e)
    f.models_registered = [{"model": e.labels.get("model_name", ""), "version": e.labels.get("model_version", ""),
                            "time": e.time} for e in sorted(registered.values(), key=lambda e: (e.time, e.id))]
    f.models_deployed = [{"service": e.labels.get("service_name", ""),
                          "models": ", ".join(m.strip() for m in e.labels.get("model_ids", "").split(",") if m.strip()),
                          "compute": e.labels.get("compute_type", ""), "time": e.time}
                         for e in by_kind["model.deployed"]]

    # --- drift ---
    monitors: dict[str, dict[str, Any]] = {}
    for e in by_kind["dataset.drift_detected"]:
        name = e.labels.get("drift_name") or e.labels.get("drift_id") or "(unnamed monitor)"
        c = number(e.labels.get("drift_coefficient"))
        m = monitors.setdefault(name, {"monitor": name, "detections": 0, "max_coefficient": None,
                                       "last_coefficient": None, "last_time": None})
        m["detections"] += 1
        if c is not None:
            m["max_coefficient"] = c if m["max_coefficient"] is None else max(m["max_coefficient"], c)
            m["last_coefficient"] = c
        m["last_time"] = e.time
    f.drift = sorted(monitors.values(), key=lambda m: (-m["detections"], m["monitor"]))

    # --- alerts ---
    fired = [e for e in by_kind["alert.fired"] if not is_cost(e)]
    sev = Counter(e.severity.value for e in fired)
    f.alerts = {"fired": len(fired), "by_severity": {s: sev.get(s, 0) for s in SEVERITIES}}
    f.alerts_per_day = {d: {s: 0 for s in SEVERITIES} for d in period.days}
    for e in fired:
        f.alerts_per_day[period.day_of(e.time)][e.severity.value] += 1
    rules = Counter(e.labels.get("alert_rule") or e.title for e in fired)
    f.top_rules = [{"rule": r, "fired": c} for r, c in sorted(rules.items(), key=lambda rc: (-rc[1], rc[0]))][:top_n]

    # --- time to resolve ---
    firings: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        if e.kind == "alert.fired" and not is_cost(e) and e.time < period.end:
            firings[e.fingerprint].append(e)
    for lst in firings.values():
        lst.sort(key=lambda e: (e.time, e.id))
    paired: set[str] = set()
    ttr: list[float] = []
    for r in sorted(by_kind["alert.resolved"], key=lambda e: (e.time, e.id)):
        if is_cost(r):
            continue
        before = [e for e in firings.get(r.fingerprint, []) if e.time <= r.time]
        if before and before[-1].id not in paired:
            paired.add(before[-1].id)
            ttr.append((r.time - before[-1].time).total_seconds())
    resolved_at: dict[str, list[datetime]] = defaultdict(list)
    for e in events:
        if e.kind == "alert.resolved" and e.time < period.end:
            resolved_at[e.fingerprint].append(e.time)
    still_open = sum(1 for e in fired if not any(t >= e.time for t in resolved_at.get(e.fingerprint, [])))
    f.resolution = {"resolved": len(ttr), "median": median(ttr), "p90": p90(ttr), "open": still_open}

    # --- cost ---
    budgets: dict[tuple[str, str], Event] = {}
    for e in sorted(by_kind["alert.fired"], key=lambda e: (e.time, e.id)):
        if is_cost(e):
            budgets[(e.labels.get("budget_name") or e.labels.get("alert_rule") or e.title,
                     e.labels.get("threshold_type", ""))] = e
    f.cost = []
    for (name, ttype), e in sorted(budgets.items()):
        forecasted = ttype == "forecasted"
        value_text = e.labels.get("forecasted_amount" if forecasted else "spent_amount", "")
        threshold_text = e.labels.get("notification_threshold") or e.labels.get("budget_threshold", "")
        value, threshold = amount(value_text), amount(threshold_text)
        f.cost.append({
            "budget": name, "threshold_type": ttype or "actual", "amount": value, "amount_text": value_text,
            "threshold": threshold, "threshold_text": threshold_text, "budget_text": e.labels.get("budget_threshold", ""),
            "currency": e.labels.get("currency", ""),
            "percent": value / threshold * 100 if value is not None and threshold else None,
            "alerts": sum(1 for x in by_kind["alert.fired"] if is_cost(x) and
                          (x.labels.get("budget_name") or x.labels.get("alert_rule") or x.title) == name and
                          x.labels.get("threshold_type", "") == ttype),
            "time": e.time,
        })
    f.alerts["cost"] = sum(1 for e in by_kind["alert.fired"] if is_cost(e))

    # --- run metrics ---
    for e in ends:
        if e.kind != "run.completed":
            continue
        for name in metric_names:
            v = _metric(e, name)
            if v is not None:
                f.metrics.setdefault(e.labels.get("experiment") or "(unnamed)", {}).setdefault(name, []).append(
                    (e.time, v))
    return f


@dataclass
class DigestData:
    """A digest's figures for its period and the period before."""

    name: str
    period: Period
    current: Figures
    previous: Figures
    sections: list[str]
    metric_names: list[str]
    generated_at: datetime
    noise: dict[str, Any] | None = None  # the noise section (noise.py), when the digest lists it


def collect(store, name: str, period: Period, *, metrics: list[str] | None = None,
            sections: list[str] | None = None, now: datetime | None = None, top_n: int = TOP_N) -> DigestData:
    """Query the store once (the period, the period before, and LOOKBACK_DAYS before that) and compute."""
    from .period import UTC

    prev = period.previous()
    events = events_between(store, prev.start - timedelta(days=LOOKBACK_DAYS), period.end, KINDS)
    metric_names = list(metrics or [])
    return DigestData(
        name=name, period=period,
        current=figures(events, period, metric_names, top_n),
        previous=figures([e for e in events if e.time < prev.end], prev, metric_names, top_n),
        sections=list(sections) if sections is not None else [],
        metric_names=metric_names,
        generated_at=now or datetime.now(UTC),
    )


def change(current: float | None, previous: float | None) -> dict[str, Any]:
    """Change from the previous period: absolute delta and percent (None when there is no base)."""
    if current is None or previous is None:
        return {"delta": None, "percent": None}
    delta = current - previous
    return {"delta": delta, "percent": (delta / previous * 100) if previous else None}
