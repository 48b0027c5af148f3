"""Stuck and missing runs.

Stuck: a run that started (`run.started`) and has no end (`run.completed`, `run.failed`,
`run.canceled`) after its limit raises one `run.stuck` event, and a `run.stuck_resolved` when it
ends. The limit is the experiment's fixed one (`run_watch.experiments`), else learned — `factor` ×
the median duration of the experiment's last `last` completed runs, never below `floor`, once
`min_runs` are known — else `stuck_after`.

A run.started older than `max_event_age` when it is taken in (a sample or a replay: a 2020 sample
run would otherwise be "still running after 59111 h") is stored and routed as usual but starts no
watch and does not count as a start for `missing`; an end still ends a watch whatever its age.

Missing (a dead man's switch): an experiment named in `run_watch.missing` that does not start
within `every` of its last start (or by `grace` after each time its `schedule` fires) raises one
`run.missing`, and `run.missing_resolved` at its next start.

`observe()` is called for every event taken in; `tick()` from the dispatcher's loop and the
Functions sweep timer. The events they return go through intake like any other (routing, stages,
outbox). State lives in the store's documents and every raise is a compare-and-set, so several
instances raise each event once; event ids are deterministic, so the outbox drops a repeat too.
"""

from __future__ import annotations

import logging
import statistics
from datetime import datetime, timezone

from ..config.schema import RunWatch
from ..model import Event
from ..rendering.renderer import duration_text
from ..config.schedule import previous_fire

log = logging.getLogger("alertrouter.watch")

RUN, DURATIONS, MISSING = "run", "durations", "missing"
ENDINGS = frozenset({"run.completed", "run.failed", "run.canceled"})
KEEP = ("workspace", "experiment", "experiment_id", "run_id", "run_type", "subscription", "resource_group", "topic")


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


def _as_written(seconds: float) -> str:
    """7d, 36h, 90m: the largest unit that divides the setting evenly."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class Watch:
    def __init__(self, cfg: RunWatch | None, store):
        self.cfg = cfg
        self.store = store

    # --- intake side ---

    def observe(self, event: Event, now: float) -> list[Event]:
        if self.cfg is None or event.source != "aml" or not event.kind.startswith("run."):
            return []
        out: list[Event] = []
        experiment = event.labels.get("experiment", "")
        t = event.time.timestamp()
        if event.kind == "run.started":
            if self._too_old(event, t, now):
                return []
            self.store.state_put(RUN, event.fingerprint, {
                "started": t, "experiment": experiment, "labels": {k: event.labels[k] for k in KEEP if k in event.labels},
                "title": event.title, "ended": False, "stuck": False}, None, now)
            out.extend(self._started(experiment, t, now))
        elif event.kind in ENDINGS:
            out.extend(self._ended(event, t, now))
        return out

    def _too_old(self, event: Event, t: float, now: float) -> bool:
        limit = self.cfg.max_event_age
        if not limit or now - t <= limit:
            return False
        log.info("run %s started %s: older than max_event_age %s; not watched",
                 event.labels.get("run_id", "?"), event.time.isoformat(), _as_written(limit),
                 extra={"event_id": event.id})
        return True

    def _started(self, experiment: str, t: float, now: float) -> list[Event]:
        out = []
        for rule in self.cfg.missing:
            if rule.experiment != experiment:
                continue
            while True:
                found = self.store.state_get(MISSING, experiment)
                doc, version = found if found else ({"last_start": 0.0, "raised": None, "since": now}, None)
                if t <= doc["last_start"]:
                    break
                raised = doc["raised"]
                new = {**doc, "last_start": t, "raised": None}
                if self.store.state_put(MISSING, experiment, new, version, now):
                    if raised is not None:
                        out.append(self._missing_event(experiment, raised, now, resolved=True))
                    break
        return out

    def _ended(self, event: Event, t: float, now: float) -> list[Event]:
        while True:
            found = self.store.state_get(RUN, event.fingerprint)
            if found is None or found[0]["ended"]:
                return []
            doc, version = found
            if self.store.state_put(RUN, event.fingerprint, {**doc, "ended": True}, version, now):
                break
        experiment = doc["experiment"]
        if event.kind == "run.completed" and t > doc["started"]:
            self._record_duration(experiment, t - doc["started"], now)
        if doc["stuck"]:
            return [self._stuck_event(event.fingerprint, doc, now, resolved=True, ended=event.kind)]
        return []

    def _record_duration(self, experiment: str, seconds: float, now: float) -> None:
        keep = self.cfg.learn.last if self.cfg.learn else 10
        while True:
            found = self.store.state_get(DURATIONS, experiment)
            doc, version = found if found else ({"recent": []}, None)
            recent = (doc["recent"] + [seconds])[-keep:]
            if self.store.state_put(DURATIONS, experiment, {"recent": recent}, version, now):
                return

    # --- the periodic side ---

    def limit(self, experiment: str) -> tuple[float | None, str]:
        """The stuck limit for an experiment, and how it was set."""
        if experiment in self.cfg.experiments:
            return self.cfg.experiments[experiment], "configured"
        learn = self.cfg.learn
        if learn is not None:
            found = self.store.state_get(DURATIONS, experiment)
            recent = found[0]["recent"] if found else []
            if len(recent) >= learn.min_runs:
                median = statistics.median(recent[-learn.last:])
                return max(learn.floor, learn.factor * median), f"{learn.factor:g} × median of {len(recent[-learn.last:])} runs"
        if self.cfg.stuck_after is not None:
            return self.cfg.stuck_after, "default"
        return None, ""

    def tick(self, now: float) -> list[Event]:
        if self.cfg is None:
            return []
        out: list[Event] = []
        for fp, doc, version in self.store.state_list(RUN):
            if doc["ended"]:
                if now - doc["started"] > 30 * 86400:  # long finished: forget
                    self.store.state_delete(RUN, fp)
                continue
            if doc["stuck"]:
                continue
            limit, how = self.limit(doc["experiment"])
            if limit is None or now - doc["started"] < limit:
                continue
            new = {**doc, "stuck": True, "limit": limit, "how": how}
            if self.store.state_put(RUN, fp, new, version, now):
                out.append(self._stuck_event(fp, new, now))
        for rule in self.cfg.missing:
            out.extend(self._check_missing(rule, now))
        return out

    def _check_missing(self, rule, now: float) -> list[Event]:
        found = self.store.state_get(MISSING, rule.experiment)
        if found is None:  # start counting from the first time we look
            self.store.state_put(MISSING, rule.experiment, {"last_start": 0.0, "raised": None, "since": now}, None, now)
            found = self.store.state_get(MISSING, rule.experiment)
        doc, version = found
        if doc["raised"] is not None:
            return []
        reference = max(doc["last_start"], doc["since"])
        if rule.every is not None:
            overdue = now - reference > rule.every
            expected = reference + rule.every
        else:
            fire = previous_fire(rule.schedule, _at(now - rule.grace), rule.time_zone).timestamp()
            overdue = fire > reference and now >= fire + rule.grace and doc["last_start"] < fire
            expected = fire
        if not overdue:
            return []
        if self.store.state_put(MISSING, rule.experiment, {**doc, "raised": expected}, version, now):
            return [self._missing_event(rule.experiment, expected, now)]
        return []

    # --- the events ---

    def _stuck_event(self, fp: str, doc: dict, now: float, resolved: bool = False, ended: str = "") -> Event:
        labels = {**doc["labels"], "limit_seconds": str(int(doc.get("limit", 0))), "limit_source": doc.get("how", "")}
        run = labels.get("run_id", "?")
        exp = doc["experiment"] or "(unnamed)"
        running = duration_text(now - doc["started"])
        if resolved:
            kind, title = "run.stuck_resolved", f"Run {run} of experiment {exp} ended ({ended}) after {running}"
        else:
            kind = "run.stuck"
            title = (f"Run {run} of experiment {exp} still running after {running} "
                     f"(limit {duration_text(doc['limit'])}, {doc['how']})")
        return Event(id=f"{kind}|{fp}", source="aml", kind=kind,
                     severity="informational" if resolved else "warning", title=title[:200], summary=title,
                     time=_at(now), fingerprint=f"stuck:{fp}", labels=labels)

    def _missing_event(self, experiment: str, expected: float, now: float, resolved: bool = False) -> Event:
        when = _at(expected).isoformat()
        if resolved:
            kind, title = "run.missing_resolved", f"Experiment {experiment} started again"
        else:
            kind, title = "run.missing", f"Experiment {experiment} has not started since it was due at {when}"
        return Event(id=f"{kind}|{experiment}|{int(expected)}", source="aml", kind=kind,
                     severity="informational" if resolved else "error", title=title[:200], summary=title,
                     time=_at(now), fingerprint=f"missing:{experiment}",
                     labels={"experiment": experiment, "expected_start": when})
