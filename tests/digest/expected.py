"""The digest's numbers computed straight from the generator's plan (what happened), without the
store, the adapters or the digest code: the definitions of alertrouter/digest/aggregate.py, written
again the plain way."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta

from .conftest import TZ, World

SEV_NAMES = {"Sev0": "critical", "Sev1": "error", "Sev2": "warning", "Sev3": "informational", "Sev4": "verbose"}


def nearest_rank(values, q):
    s = sorted(values)
    return s[math.ceil(q * len(s)) - 1] if s else None


def med(values):
    s = sorted(values)
    n = len(s)
    if not n:
        return None
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def local_days(start: datetime, end: datetime):
    d, out = start.date(), []
    while d < end.date():
        out.append(d)
        d += timedelta(days=1)
    return out


def expected(world: World, start: datetime, end: datetime) -> dict:
    def inside(t):
        return t is not None and start <= t < end

    runs = [r for r in world.runs if inside(r.end)]
    n = len(runs)
    by_status = {s: sum(1 for r in runs if r.status == s) for s in ("succeeded", "failed", "canceled")}
    durations = [(r.end - r.start).total_seconds() for r in runs if r.start is not None]
    per_exp = defaultdict(lambda: [0, 0])
    for r in runs:
        per_exp[r.experiment][0] += 1
        per_exp[r.experiment][1] += r.status == "failed"
    failing = sorted(((x, f, total) for x, (total, f) in per_exp.items() if f), key=lambda t: (-t[1], t[0]))

    days = local_days(start, end)
    runs_per_day = {d: {"succeeded": 0, "failed": 0, "canceled": 0} for d in days}
    for r in runs:
        runs_per_day[r.end.astimezone(TZ).date()][r.status] += 1

    metrics = defaultdict(lambda: defaultdict(list))
    for r in sorted(runs, key=lambda r: r.end):
        if r.status != "succeeded":
            continue
        for k, v in r.metrics.items():
            if isinstance(v, float):
                metrics[r.experiment][k].append(v)

    fired = [a for a in world.alerts if inside(a.fired)]
    by_sev = defaultdict(int)
    alerts_per_day = {d: defaultdict(int) for d in days}
    for a in fired:
        by_sev[SEV_NAMES[a.sev]] += 1
        alerts_per_day[a.fired.astimezone(TZ).date()][SEV_NAMES[a.sev]] += 1
    rules = defaultdict(int)
    for a in fired:
        rules[a.rule] += 1
    ttr = [(a.resolved - a.fired).total_seconds() for a in world.alerts if inside(a.resolved)]
    still_open = sum(1 for a in fired if a.resolved is None or a.resolved >= end)

    drift = defaultdict(list)
    for monitor, coef, t in sorted(world.drift, key=lambda d: d[2]):
        if inside(t):
            drift[monitor].append(coef)

    budgets = {}
    counts = defaultdict(int)
    for b in sorted(world.budgets, key=lambda b: b.at):
        if inside(b.at):
            budgets[(b.name, b.threshold_type)] = b
            counts[(b.name, b.threshold_type)] += 1

    return {
        "ended": n, **by_status, "success_rate": by_status["succeeded"] / n if n else None,
        "started": sum(1 for r in world.runs if inside(r.start)),
        "median_duration": med(durations), "p90_duration": nearest_rank(durations, 0.9),
        "failing": failing[:5],
        "runs_per_day": runs_per_day,
        "metrics": {x: dict(m) for x, m in metrics.items()},
        "registered": sorted((m, v) for m, v, t in world.registered if inside(t)),
        "deployed": sorted((s, ids) for s, ids, t in world.deployed if inside(t)),
        "drift": {m: (len(c), max(c), c[-1]) for m, c in drift.items()},
        "fired": len(fired), "by_severity": dict(by_sev),
        "alerts_per_day": {d: dict(v) for d, v in alerts_per_day.items()},
        "top_rules": sorted(rules.items(), key=lambda rc: (-rc[1], rc[0]))[:5],
        "resolved": len(ttr), "ttr_median": med(ttr), "ttr_p90": nearest_rank(ttr, 0.9), "open": still_open,
        "budgets": {k: ((b.forecast if b.threshold_type == "forecasted" else b.spent), b.threshold, counts[k])
                    for k, b in budgets.items()},
        "budget_alerts": sum(counts.values()),
    }
