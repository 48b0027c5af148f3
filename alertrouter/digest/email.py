"""A digest's view model (per role: restricted roles get no links and no run metrics, which come from
run tags and properties they may not see) and its email parts from `templates/email/<template>.*.j2`
(subject, text, html), through the same sandboxed Jinja environment as notifications."""

from __future__ import annotations

import hashlib
import html
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import jinja2

from ..config.schema import DIGEST_SECTIONS, OPTIONAL_DIGEST_SECTIONS
from ..rendering.renderer import SEVERITY_SEV, Rendered, Renderer, duration_text
from .aggregate import RUN_STATUSES, SEVERITIES, DigestData, change, median
from .charts import RUN_COLOURS, SEVERITY_COLOURS, gauge, stacked_bars

log = logging.getLogger("alertrouter.digest")

PARTS = ("subject", "text", "html")
GOOD, BAD, NEUTRAL = "good", "bad", "neutral"
TONE_COLOURS = {GOOD: "#107c10", BAD: "#d13438", NEUTRAL: "#605e5c"}


def _num(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "–"
    if float(v).is_integer() and abs(v) < 1e9:
        return str(int(v))
    return f"{v:.{digits}g}"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.0f}%"


def _dur(seconds: float | None) -> str:
    return duration_text(seconds) or "–"


def _when(t: datetime | None, tz: str) -> str:
    return t.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M") if t else ""


def _tone(delta: float | None, better: str) -> str:
    if delta is None or delta == 0 or better == NEUTRAL:
        return NEUTRAL
    return GOOD if (delta > 0) == (better == "up") else BAD


def _figure(key: str, label: str, cur: float | None, prev: float | None, better: str, kind: str = "count"
            ) -> dict[str, Any]:
    ch = change(cur, prev)
    delta = ch["delta"]
    if kind == "rate":
        show = _pct
        change_text = "–" if delta is None else f"{delta * 100:+.0f} pp"
    elif kind == "duration":
        show = _dur
        change_text = "–" if delta is None else ("±0" if delta == 0 else
                                                 ("+" if delta > 0 else "−") + _dur(abs(delta)))
    else:
        show = _num
        change_text = "–" if delta is None else f"{delta:+g}"
        if ch["percent"] is not None and delta:
            change_text += f" ({ch['percent']:+.0f}%)"
    tone = _tone(delta, better)
    return {
        "key": key, "label": label, "value": show(cur), "previous": show(prev), "change": change_text,
        "arrow": "" if not delta else ("▲" if delta > 0 else "▼"), "tone": tone, "colour": TONE_COLOURS[tone],
        "raw": cur, "raw_previous": prev,
    }


def view(data: DigestData, *, role: str, visibility: str, title: str = "") -> dict[str, Any]:
    """The flat dict the digest templates see."""
    full = visibility != "restricted"
    cur, prev, p = data.current, data.previous, data.period
    tz = p.tz
    sections = [s for s in (data.sections or DIGEST_SECTIONS) if full or s != "metrics"]
    show = {s: s in sections for s in DIGEST_SECTIONS + OPTIONAL_DIGEST_SECTIONS}

    headline = []
    if show["runs"]:
        headline += [
            _figure("runs", "Runs ended", cur.runs["ended"], prev.runs["ended"], NEUTRAL),
            _figure("success_rate", "Success rate", cur.runs["success_rate"], prev.runs["success_rate"], "up", "rate"),
            _figure("failed", "Failed runs", cur.runs["failed"], prev.runs["failed"], "down"),
        ]
    if show["models"]:
        headline += [
            _figure("registered", "Models registered", len(cur.models_registered), len(prev.models_registered),
                    NEUTRAL),
            _figure("deployed", "Deployments", len(cur.models_deployed), len(prev.models_deployed), NEUTRAL),
        ]
    if show["drift"]:
        headline.append(_figure("drift", "Drift detections", sum(m["detections"] for m in cur.drift),
                                sum(m["detections"] for m in prev.drift), "down"))
    if show["alerts"]:
        headline.append(_figure("alerts", "Alerts fired", cur.alerts["fired"], prev.alerts["fired"], "down"))
    if show["resolution"]:
        headline.append(_figure("ttr", "Median time to resolve", cur.resolution["median"], prev.resolution["median"],
                                "down", "duration"))
    if show["cost"]:
        headline.append(_figure("budget_alerts", "Budget alerts", cur.alerts["cost"], prev.alerts["cost"], "down"))

    metrics = []
    if show["metrics"]:
        prev_values = {(x, m): [v for _, v in vals] for x, ms in prev.metrics.items() for m, vals in ms.items()}
        for experiment in sorted(cur.metrics):
            for name in data.metric_names:
                vals = cur.metrics[experiment].get(name)
                if not vals:
                    continue
                values = [v for _, v in vals]
                mean = sum(values) / len(values)
                before = prev_values.get((experiment, name))
                before_mean = sum(before) / len(before) if before else None
                f = _figure(name, name, mean, before_mean, NEUTRAL)
                metrics.append({
                    "experiment": experiment, "metric": name, "runs": len(values), "latest": _num(values[-1]),
                    "mean": _num(mean), "min": _num(min(values)), "max": _num(max(values)),
                    "median": _num(median(values)), "previous_mean": _num(before_mean),
                    "change": "–" if before_mean is None else f"{mean - before_mean:+.4g}",
                    "arrow": f["arrow"], "values": [_num(v) for v in values],
                })

    cost = []
    for b in cur.cost:
        cost.append({**{k: b[k] for k in ("budget", "threshold_type", "amount_text", "threshold_text", "budget_text",
                                           "currency", "alerts")},
                     "percent": "–" if b["percent"] is None else f"{b['percent']:.0f}%",
                     "when": _when(b["time"], tz), "gauge": gauge(b["percent"])})

    title = title or f"{data.name.replace('-', ' ').replace('_', ' ').capitalize()}: {p.label()}"
    return {
        "digest": data.name,
        "title": title,
        "period": {"label": p.label(), "start": p.start_local.isoformat(), "end": p.end_local.isoformat(), "tz": tz,
                   "days": p.days_count, "hours": round(p.hours, 2), "key": p.key},
        "previous_label": p.previous().label(),
        "sections": sections,
        "show": show,
        "headline": headline,
        "runs": {**{k: cur.runs[k] for k in ("ended", "started", "experiments", "failing_experiments", "timed",
                                              "stuck", "missing", *RUN_STATUSES)},
                 "success_rate": _pct(cur.runs["success_rate"]),
                 "median_duration": _dur(cur.runs["median_duration"]), "p90_duration": _dur(cur.runs["p90_duration"])},
        "runs_chart": stacked_bars(cur.runs_per_day, RUN_STATUSES, RUN_COLOURS),
        "experiments": [{"experiment": x["experiment"], "runs": x["runs"], "failed": x["failed"],
                         "failure_rate": _pct(x["failure_rate"]), "link": x["link"] if full else ""}
                        for x in cur.experiments],
        "models_registered": [{"model": m["model"], "version": m["version"], "when": _when(m["time"], tz)}
                              for m in cur.models_registered],
        "models_deployed": [{"service": m["service"], "models": m["models"], "compute": m["compute"],
                             "when": _when(m["time"], tz)} for m in cur.models_deployed],
        "drift": [{"monitor": m["monitor"], "detections": m["detections"], "max_coefficient": _num(m["max_coefficient"], 3),
                   "last_coefficient": _num(m["last_coefficient"], 3), "when": _when(m["last_time"], tz)}
                  for m in cur.drift],
        "alerts": {"fired": cur.alerts["fired"], "cost": cur.alerts["cost"],
                   "by_severity": [{"severity": s, "sev": SEVERITY_SEV[s], "count": cur.alerts["by_severity"][s],
                                    "previous": prev.alerts["by_severity"][s], "colour": SEVERITY_COLOURS[s]}
                                   for s in SEVERITIES]},
        "alerts_chart": stacked_bars(cur.alerts_per_day, SEVERITIES, SEVERITY_COLOURS),
        "top_rules": cur.top_rules,
        "resolution": {"resolved": cur.resolution["resolved"], "open": cur.resolution["open"],
                       "median": _dur(cur.resolution["median"]), "p90": _dur(cur.resolution["p90"]),
                       "previous_median": _dur(prev.resolution["median"]), "previous_p90": _dur(prev.resolution["p90"])},
        "cost": cost,
        "metrics": metrics,
        "metric_names": list(data.metric_names) if full else [],
        "noise": (data.noise or {}) if show["noise"] else {},
        "links": full,
        "role": role,
        "visibility": visibility,
        "generated_at": data.generated_at.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M %Z"),
    }


def digest_id(name: str, period_key: str, role: str, channel: str) -> str:
    """Stable per digest period, role and channel (the email's Message-ID comes from it)."""
    return "d_" + hashlib.sha256("\x1f".join((name, period_key, role, channel)).encode()).hexdigest()[:32]


def fallback(v: dict[str, Any], part: str) -> str:
    """What a part is when its template is missing or fails: the headline figures, plainly."""
    if part == "subject":
        return v["title"]
    lines = [v["title"], ""] + [f"{h['label']}: {h['value']} (before: {h['previous']}, {h['change']})"
                                for h in v["headline"]]
    text = "\n".join(lines)
    return "<pre>" + html.escape(text) + "</pre>" if part == "html" else text


def render_digest(renderer: Renderer, data: DigestData, *, template: str = "digest", role: str, visibility: str,
                  channel: str = "", recipients: dict[str, list[str]] | None = None,
                  template_dirs: Iterable[str] = (), parts: Iterable[str] = PARTS) -> Rendered:
    v = view(data, role=role, visibility=visibility)
    dirs = tuple(str(d) for d in template_dirs if d)
    envs = [renderer._env(dirs)] + ([renderer._env(())] if dirs else [])  # the role's folder, then templates/
    out: dict[str, str] = {}
    errors: dict[str, str] = {}
    for part in parts:
        name = f"email/{template}.{part}.j2"
        tpl = None
        for env in envs:
            try:
                tpl = env.get_template(name)
                break
            except jinja2.TemplateNotFound:
                errors.setdefault(part, f"{name}: not found")
            except jinja2.TemplateError as exc:  # a typo in a template must not lose the digest
                where = f"{exc.filename or name}:{getattr(exc, 'lineno', '?')}"
                errors[part] = f"{where}: {type(exc).__name__}: {exc}"
                log.error("digest template %s does not compile (%s); trying the next, else the plain rendering",
                          where, exc)
        if tpl is None:
            out[part] = fallback(v, part)
            continue
        try:
            out[part] = tpl.render(**v).strip()
        except Exception as exc:  # a broken template must not lose the digest
            errors[part] = f"{name}: {type(exc).__name__}: {exc}"
            log.warning("digest template %s failed (%s: %s); sending the plain rendering", name,
                        type(exc).__name__, exc)
            out[part] = fallback(v, part)
    if "subject" in out:
        v["title"] = " ".join(out["subject"].split())
    return Rendered(
        notification_id=digest_id(data.name, data.period.key, role, channel),
        event_id=f"digest:{data.name}:{data.period.key}", route=f"digest:{data.name}", role=role, channel=channel,
        kind="digest", severity="informational", title=v["title"], parts=out, view=v,
        recipients=recipients or {}, template_errors=errors,
    )


def template_dirs_for(loaded, role_name: str) -> list[str]:
    """The role's template folder (relative to the config file), as notifications use it."""
    role = loaded.config.roles[role_name]
    if not role.templates:
        return []
    base = Path(loaded.path).resolve().parent
    d = Path(role.templates)
    return [str(d if d.is_absolute() else base / d)]
