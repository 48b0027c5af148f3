"""A seeded synthetic month of Azure ML runs and Azure Monitor alerts, made from the real payloads in
tests/fixtures with new ids and times, and parsed by the real adapters: a nightly retrain (with a
few failures and the doubled end notice Azure ML sends), daytime runs, alert storms (Sev1 pages,
Sev2 storms from one rule, a Sev0 with lesser alerts on its resource), flapping alerts, budget
alerts, and two silences made by people mid-month (one mid-storm, one expired early).

`month(seed)` is deterministic: the same seed gives the same events and silences."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from alertrouter.inbound import parse_payload
from alertrouter.model import Event
from tests.conftest import load_fixture

UTC = timezone.utc
START = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday
DAYS = 30
END = START + timedelta(days=DAYS)
SUB = "5a1e0000-1111-2222-3333-444455556666"
RG = f"/subscriptions/{SUB}/resourcegroups/rg-ml/providers"
TOPIC = f"/subscriptions/{SUB}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws-prod"


@dataclass(frozen=True)
class SilenceAction:
    at: float
    matchers: dict
    hours: float
    comment: str
    expire_after_hours: float | None = None  # expired by hand this long after it was made


@dataclass
class Month:
    events: list[Event] = field(default_factory=list)
    silences: list[SilenceAction] = field(default_factory=list)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _run(rng: random.Random, fixture: str, experiment: str, run_id: str, status: str | None, t: datetime) -> list[Event]:
    [payload] = copy.deepcopy(load_fixture(fixture))
    payload["id"] = f"{rng.getrandbits(64):016x}"
    payload["eventTime"] = iso(t)
    payload["topic"] = TOPIC
    payload["subject"] = f"experiments/exp-{experiment}/runs/{run_id}"
    payload["data"].update({"experimentName": experiment, "experimentId": f"exp-{experiment}", "runId": run_id})
    if status is not None:
        payload["data"]["runStatus"] = status
    return parse_payload([payload]).events


def _alert(alert_id: str, rule: str, sev: str, resource: str, fired: datetime,
           resolved: datetime | None = None) -> list[Event]:
    fixture = "monitor-metric-static-resolved.json" if resolved else "monitor-metric-static-fired.test-action.json"
    payload = copy.deepcopy(load_fixture(fixture))
    ess = payload["data"]["essentials"]
    ess.update({"alertId": f"/subscriptions/{SUB}/providers/Microsoft.AlertsManagement/alerts/{alert_id}",
                "alertRule": rule, "severity": sev, "firedDateTime": iso(fired),
                "alertTargetIDs": [f"{RG}/microsoft.compute/virtualmachines/{resource}"],
                "configurationItems": [resource], "originAlertId": alert_id})
    if resolved:
        ess["resolvedDateTime"] = iso(resolved)
    return parse_payload(payload).events


def _budget(name: str, t: datetime) -> list[Event]:
    payload = copy.deepcopy(load_fixture("monitor-budget-fired.test-action.json"))
    ess = payload["data"]["essentials"]
    ess["firedDateTime"] = iso(t)
    ess["alertId"] = f"/subscriptions/{SUB}/providers/Microsoft.CostManagement/alerts/{name}-{int(t.timestamp())}"
    return parse_payload(payload).events


def _storm(out: list[Event], rng: random.Random, tag: str, rule: str, sev: str, at: datetime, size: int,
           resources: list[str]) -> None:
    for i in range(size):
        fired = at + timedelta(seconds=rng.randint(0, 150))
        resolved = fired + timedelta(minutes=rng.randint(5, 50))
        aid = f"{tag}-{i:03d}-{rng.getrandbits(32):08x}"
        res = rng.choice(resources)
        out += _alert(aid, rule, sev, res, fired)
        if rng.random() < 0.85:
            out += _alert(aid, rule, sev, res, fired, resolved)


def month(seed: int = 19) -> Month:
    rng = random.Random(seed)
    m = Month()
    ev = m.events
    for day in range(DAYS):
        base = START + timedelta(days=day)
        # the nightly retrain: started, then completed (sometimes both end notices) or failed
        run_id = f"nightly-retrain-{day:02d}-{rng.getrandbits(24):06x}"
        begin = base + timedelta(hours=2, minutes=rng.randint(0, 20))
        ev += _run(rng, "aml-runstatuschanged-running.eventgrid.json", "nightly-retrain", run_id, "Running", begin)
        end_at = begin + timedelta(minutes=rng.randint(50, 110))
        if day in (6, 17, 18):
            ev += _run(rng, "aml-runstatuschanged-failed.eventgrid.json", "nightly-retrain", run_id, "Failed", end_at)
        else:
            ev += _run(rng, "aml-runstatuschanged-running.eventgrid.json", "nightly-retrain", run_id, "Completed", end_at)
            if rng.random() < 0.5:
                ev += _run(rng, "aml-runcompleted.eventgrid.json", "nightly-retrain", run_id, None,
                           end_at + timedelta(seconds=3))
        # daytime experiments
        for i in range(rng.randint(1, 4)):
            exp = rng.choice(["churn-model", "fraud-detector", "demand-forecast"])
            rid = f"{exp}-{day:02d}-{i}-{rng.getrandbits(24):06x}"
            t = base + timedelta(hours=rng.randint(8, 18), minutes=rng.randint(0, 59))
            ev += _run(rng, "aml-runstatuschanged-running.eventgrid.json", exp, rid, "Running", t)
            status = "Failed" if rng.random() < 0.2 else "Completed"
            fixture = "aml-runstatuschanged-failed.eventgrid.json" if status == "Failed" \
                else "aml-runstatuschanged-running.eventgrid.json"
            ev += _run(rng, fixture, exp, rid, status, t + timedelta(minutes=rng.randint(10, 240)))
        # flapping: one rule on one disk, firing and resolving every few minutes, on some days
        if day % 7 in (1, 4):
            t = base + timedelta(hours=rng.randint(9, 16))
            if day == 8:  # the day someone hushes the disk for maintenance (below)
                t = base + timedelta(hours=9, minutes=30)
            for i in range(10):
                aid = f"flap-{day:02d}-{i}-{rng.getrandbits(24):06x}"
                ev += _alert(aid, "disk-latency", "Sev3", "vm-data-1", t)
                ev += _alert(aid, "disk-latency", "Sev3", "vm-data-1", t, t + timedelta(minutes=2))
                t += timedelta(minutes=rng.randint(5, 9))
    # storms: Sev1 5xx (pages), Sev2 cpu (grouped, over se-teams' budget), a Sev0 with lesser alerts
    for n, day in enumerate((3, 9, 15, 22, 27)):
        at = START + timedelta(days=day, hours=rng.randint(10, 20), minutes=rng.randint(0, 59))
        _storm(ev, rng, f"5xx{n}", "endpoint-5xx", "Sev1", at, rng.randint(6, 12), ["aks-ml-1", "aks-ml-2"])
        _storm(ev, rng, f"cpu{n}", "cpu-high", "Sev2", at + timedelta(minutes=1), rng.randint(25, 40),
               [f"vm-{i}" for i in range(8)])
        if n == 2:  # people hush the cpu storm part-way through it
            m.silences.append(SilenceAction((at + timedelta(minutes=2)).timestamp(), {"alert_rule": "cpu-high"},
                                            2.0, "cpu storm: scaling out"))
    sev0 = START + timedelta(days=12, hours=14)
    ev += _alert("sev0-disk", "disk-full", "Sev0", "vm-db-1", sev0)
    for i in range(5):
        aid = f"under-sev0-{i}"
        ev += _alert(aid, "io-wait", "Sev2", "vm-db-1", sev0 + timedelta(minutes=2 + i))
        ev += _alert(aid, "io-wait", "Sev2", "vm-db-1", sev0 + timedelta(minutes=2 + i), sev0 + timedelta(minutes=30))
    ev += _alert("sev0-disk", "disk-full", "Sev0", "vm-db-1", sev0, sev0 + timedelta(minutes=40))
    # a silence on the flapping disk, made for a day and expired by hand after an hour (mid-flapping)
    m.silences.append(SilenceAction((START + timedelta(days=8, hours=9)).timestamp(), {"alert_rule": "disk-latency"},
                                    24.0, "disk maintenance", expire_after_hours=1.0))
    for name, day in (("ml-compute", 5), ("ml-compute", 19), ("ml-storage", 25)):
        ev += _budget(name, START + timedelta(days=day, hours=7, minutes=rng.randint(0, 59)))
    m.events = sorted(ev, key=lambda e: (e.time, e.id))
    return m


def hard_days(m: Month) -> Month:
    """The month's hard parts only, for the slower Azure store: a nightly retrain whose end Azure ML
    reported twice, a budget alert, the flapping disk hushed and un-hushed, the Sev0 holding lesser
    alerts on its resource, and the storm a silence was made in the middle of."""
    ends: dict[str, list[Event]] = {}
    for e in m.events:
        if e.kind == "run.completed":
            ends.setdefault(e.fingerprint, []).append(e)
    doubled = next(es[0].time for es in ends.values() if len(es) > 1)
    budget = next(e.time for e in m.events if e.labels.get("category") == "cost")
    mid_storm = datetime.fromtimestamp(m.silences[0].at, UTC)
    hushed = datetime.fromtimestamp(m.silences[1].at, UTC)
    sev0 = next(e.time for e in m.events if e.severity.value == "critical")
    windows = [(doubled - timedelta(hours=2), doubled + timedelta(minutes=5)),
               (budget - timedelta(minutes=1), budget + timedelta(minutes=1)),
               (hushed, hushed + timedelta(hours=3)), (sev0 - timedelta(minutes=1), sev0 + timedelta(hours=1)),
               (mid_storm - timedelta(minutes=5), mid_storm + timedelta(minutes=90))]
    return Month([e for e in m.events if any(lo <= e.time < hi for lo, hi in windows)], m.silences)
