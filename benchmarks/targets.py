"""The performance issue's targets table, from one run of throughput.py: each row ours, the null
router and Alertmanager, ours / null and ours / Alertmanager, the target and whether it is met.

Rows come from the workload runs (single x1 and x8, burst at N), the burst at N >= 10,000 for peak
RSS (Alertmanager keeps every alert in memory, a group each), and the scaling runs of the storm on
the shipped routing.yaml (its first and largest N, 2,000 and 20,000 in `make bench`; its peak RSS at
the largest N >= 10,000).
A row whose figures were not measured in the run (a target absent, N not run) says so instead of
judging; the null router has no grouping or routing, so the storm rows have no null figure.
"""

from __future__ import annotations

NAN = float("nan")
FLAT = 1.25  # "flat": ours' CPU per alert at the largest N at most this many times that at the first


def _ratio(a: float | None, b: float | None) -> float:
    if a is None or b is None or a != a or b != b or not b:
        return NAN
    return round(a / b, 2)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:,.2f}" if isinstance(v, float) and abs(v) < 10 else f"{v:,.0f}" if isinstance(v, (int, float)) else str(v)


def _verdict(checks: list[tuple[float, str, float]]) -> str:
    """checks: (ratio, ">=" or "<=", bound); 'met', 'NOT met', or 'not measured' when a ratio is missing."""
    if any(r != r for r, _, _ in checks):
        return "not measured"
    ok = all(r >= bound if op == ">=" else r <= bound for r, op, bound in checks)
    return "met" if ok else "NOT met"


def _find(rows: list[dict], target: str, workload: str, conns: int = 1) -> dict | None:
    return next((r for r in rows if r["target"] == target and r["workload"] == workload
                 and (workload != "single" or r["connections"] == conns) and r.get("config") != "shipped"
                 and r.get("purpose") != "rss"), None)


def _storm(scaling: list[dict], target: str, n: int) -> dict | None:
    return next((r for r in scaling if r["target"] == target and r["n"] == n), None)


def targets(rows: list[dict], scaling: list[dict]) -> list[dict]:
    """One dict per row of the issue's table (see the module's docstring)."""
    out = []

    def add(what: str, ours, null, am, target: str, checks) -> None:
        out.append({"workload": what, "ours": _fmt(ours), "null": _fmt(null), "alertmanager": _fmt(am),
                    "ours/null": _fmt(_ratio(ours, null)), "ours/am": _fmt(_ratio(ours, am)),
                    "target": target, "met": _verdict(checks)})

    def get(r: dict | None, key: str):
        return None if r is None else r.get(key)

    n = next((r["n"] for r in rows), None)
    for conns in (1, 8):
        o, nl, a = (_find(rows, t, "single", conns) for t in ("ours", "null", "alertmanager"))
        ours, null, am = get(o, "delivered_per_s"), get(nl, "delivered_per_s"), get(a, "delivered_per_s")
        add(f"single x{conns}, delivered/s (N={n})", ours, null, am, ">= 0.6x am, >= 0.8x null",
            [(_ratio(ours, am), ">=", 0.6), (_ratio(ours, null), ">=", 0.8)])
    o, nl, a = (_find(rows, t, "burst") for t in ("ours", "null", "alertmanager"))
    ours, null, am = get(o, "delivered_per_s"), get(nl, "delivered_per_s"), get(a, "delivered_per_s")
    add(f"burst (Event Grid x100), delivered/s (N={n})", ours, null, am, ">= 1.0x am", [(_ratio(ours, am), ">=", 1.0)])
    ours, null, am = get(o, "p99_ms"), get(nl, "p99_ms"), get(a, "p99_ms")
    add(f"burst p99 intake to delivery, ms (N={n})", ours, null, am, "<= 2x am", [(_ratio(ours, am), "<=", 2.0)])

    ns = sorted({r["n"] for r in scaling})  # the issue's: 2,000 and 20,000 (`make bench`)
    small, big = (ns[0], ns[-1]) if len(ns) > 1 else (ns[0] if ns else None, None)
    for size in [m for m in (small, big) if m]:
        o, a = _storm(scaling, "ours", size), _storm(scaling, "alertmanager", size)
        ours, am = get(o, "events_in_per_s"), get(a, "events_in_per_s")
        add(f"storm, shipped routing.yaml, events in/s (N={size:,})", ours, None, am, ">= 1.0x am",
            [(_ratio(ours, am), ">=", 1.0)])
    if big:
        lo, hi = _storm(scaling, "ours", small), _storm(scaling, "ours", big)
        growth = _ratio(get(hi, "cpu_ms_per_alert"), get(lo, "cpu_ms_per_alert"))
        out.append({"workload": f"storm flat: ours' CPU ms per alert, N={big:,} / N={small:,}",
                    "ours": f"{_fmt(get(lo, 'cpu_ms_per_alert'))} -> {_fmt(get(hi, 'cpu_ms_per_alert'))}",
                    "null": "-", "alertmanager": "-", "ours/null": "-", "ours/am": _fmt(growth),
                    "target": f"<= {FLAT}x (ratio to N={small:,})", "met": _verdict([(growth, "<=", FLAT)])})
    memory = [r for r in rows if r.get("purpose") == "rss"]
    o, a = (next((r for r in memory if r["target"] == t), None) for t in ("ours", "alertmanager"))
    ours, am = get(o, "peak_rss_mb"), get(a, "peak_rss_mb")
    size = get(o, "n") or get(a, "n")
    add(f"peak RSS MB, burst N={size:,}" if size else "peak RSS MB, burst N >= 10,000 (not run)", ours, None, am,
        "<= 0.5x am", [(_ratio(ours, am), "<=", 0.5)])
    rss_n = next((m for m in reversed(ns) if m >= 10_000), None)
    if rss_n:
        o, a = (_storm(scaling, t, rss_n) for t in ("ours", "alertmanager"))
        ours, am = get(o, "peak_rss_mb"), get(a, "peak_rss_mb")
        add(f"peak RSS MB, storm shipped N={rss_n:,}", ours, None, am, "<= 0.5x am", [(_ratio(ours, am), "<=", 0.5)])
    return out
